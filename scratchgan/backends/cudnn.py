"""``torch.backends.cudnn``: flags that PyTorch scripts set; accepted, and they change nothing here."""
benchmark = False
deterministic = False
enabled = True
allow_tf32 = True


def is_available() -> bool:
    return False
