"""The recipes' measured results, the seeds benchmark and the mode-collapse demo, run tiny."""
import importlib.util
from pathlib import Path

from scratchgan.gan import cli, recipes

ROOT = Path(__file__).resolve().parents[1]


def _script(path):
    spec = importlib.util.spec_from_file_location(f"script_{Path(path).stem}", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipes_command_shows_each_toy_recipe_with_its_measurement(capsys):
    assert cli.main(["recipes"]) == 0
    out = capsys.readouterr().out
    for data in ("ring8", "grid25"):
        m = recipes.MEASURED[(data, "mlp")]
        assert m["result"] in out and m["command"] in out and m["date"] in out
    headers = [line for line in out.splitlines() if not line.startswith(" ")]
    assert len(headers) == len(recipes.RECIPES) and all(" --model " in h for h in headers)


def test_seeds_benchmark_prints_a_row_per_seed_and_a_summary(tmp_path, capsys):
    rows = _script("benchmarks/seeds.py").main(
        ["--data", "ring8", "--seed-list", "3", "--n", "200", "--out", str(tmp_path), "--in-process", "--",
         "--steps", "3", "--batch-size", "16", "--hidden", "8", "--depth", "1", "--device", "cpu",
         "--sample-every", "100", "--checkpoint-every", "0"])
    out = capsys.readouterr().out
    assert [r["seed"] for r in rows] == [3] and rows[0]["n_modes"] == 8
    assert "| seed | modes | high quality | reverse KL | wall time | load |" in out
    assert "of 1 seeds meet the target (8/8 modes, >= 95 % high quality)" in out
    assert (tmp_path / "seed3" / "samples.npy").is_file()


def test_mode_collapse_demo_runs_tiny_and_draws_one_panel_per_variant(tmp_path):
    results = _script("demos/mode_collapse.py").main(["--steps", "2", "--batch-size", "16", "--out", str(tmp_path),
                                                         "--quiet"])
    assert list(results) == ["plain GAN", "packed GAN (pack 4)", "WGAN-GP", "hinge + spectral norm"]
    assert all(r.n_modes == 25 and r.n_samples == 2500 for r in results.values())
    assert (tmp_path / "mode_collapse.png").is_file()


def test_d_hidden_widens_only_the_toy_discriminator():
    from scratchgan.gan.train import build_models  # noqa: PLC0415

    args = cli.build_parser().parse_args(["train", "--data", "grid25", "--hidden", "16", "--d-hidden", "24"])
    G, D, nz = build_models(cli.config_from_args(args))
    assert G.main[0].out_features == 16 and D.main[0].out_features == 24 and D.main[0].in_features == 2 * 4
