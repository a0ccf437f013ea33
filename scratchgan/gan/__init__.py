"""The training app: the GAN product built on the engine (``scratchgan``, ``.nn``, ``.optim``).

    train.py       the training loop (``train_step`` is the algorithm; ``train`` runs it with its bookkeeping)
    objectives.py  the GAN losses on D's logits and scores (ns, minimax, WGAN, WGAN-GP, hinge, R1)
    models.py      DCGAN, MLP, toy and conditional generators and discriminators
    ema.py         the moving average of G's weights
    datasets.py    MNIST/Fashion-MNIST IDX files and the toy 2-D mixtures
    metrics.py     sample quality on the toy distributions (modes covered, % high quality)
    checkpoint.py  checkpoints that resume bit for bit;  runs.py: run folders, locks, atomic writes
    plotting.py    sample grids and loss curves;  cli.py: the ``scratchgan`` command;  recipes.py: its presets

The engine never imports this package (tests/test_imports.py checks it): the product depends on the
engine, not the reverse.
"""
