"""The graphs that backward() walks in one GAN step, printed and drawn.

A small MLP GAN on 2-D points.  D's loss, −log D(x) − log(1 − D(G(z))), reaches D's parameters
only: the fake batch enters through ``detach()``, so G's side of the graph is cut off and shows as
a constant.  G's loss, −log D(G(z)), runs through D into G, so both networks' parameters are
leaves of its graph (the training step turns D's requires_grad off there; here they stay on so
the picture shows the whole chain).  Each graph is printed as a tree and drawn as a PNG.

    python demos/graph.py --out runs/graph
"""
import argparse
import os

import scratchgan as torch
import scratchgan.nn as nn
from scratchgan.gan import objectives
from scratchgan.viz import draw_graph, graph_text


def main(argv=None):
    parser = argparse.ArgumentParser(description="print and draw the graphs of one D loss and one G loss")
    parser.add_argument("--out", default="runs/graph")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    nets = {"G": G, "D": D}
    x = torch.randn(32, 2)  # a real batch
    z = torch.randn(32, 4)
    fake = G(z)

    loss_D = objectives.discriminator_loss(D(x).reshape(-1), D(fake.detach()).reshape(-1))
    loss_G = objectives.generator_loss(D(fake).reshape(-1))

    os.makedirs(args.out, exist_ok=True)
    drawn = {}
    for name, loss in (("loss_D", loss_D), ("loss_G", loss_G)):
        text = graph_text(loss, nets)
        print(f"{name} = {loss.item():.4f}\n{text}\n")
        path = draw_graph(loss, os.path.join(args.out, f"{name}.png"), nets, title=f"the graph of {name}")
        print(f"drawn: {path}\n")
        drawn[name] = (text, path)
    return drawn


if __name__ == "__main__":
    main()
