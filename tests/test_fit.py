"""Tests of fit.py and its modules (lawfit, lbfgs, compute_optimal, interpolation) against independent truths:
planted laws, closed forms, brute force and published fits."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import minimize, minimize_scalar

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import compute_optimal  # noqa: E402
import fit  # noqa: E402
import lawfit  # noqa: E402
import records  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
CHINCHILLA_CSV = os.path.join(ROOT, "reference", "chinchilla_svg_extracted.csv")
TRUE = lawfit.CHINCHILLA
A_TRUE = TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"])


def run_cli(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "fit.py"), *args], capture_output=True, text=True)


def records_from(runs, seed=0):
    """Run records (DESIGN.md) of simulated runs."""
    return [dict(run=f"r{i}", status="ok", params=dict(total=n, embedding=0, readout=0, non_embedding=n), tokens=d,
                 flops=c, loss=l, floor=fl, lr=1e-3, seed=seed, width=i, curve=[[t, v] for t, v in zip(ct / (6 * n), lt)])
            for i, (n, d, c, l, fl, (ct, lt)) in enumerate(zip(runs["N"], runs["D"], runs["C"], runs["L"], runs["floor"], runs["curves"]))]


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    F = np.log(rng.uniform(1e6, 1e9, (30, 2)))
    laws = [(lambda th: lawfit.lse_law(th, F), np.array([[0.5, 6.0, 5.0, 0.3, 0.25]])),
            (lambda th: lawfit.lse_law(th, F[:, :1], np.log(1.5)), np.array([[4.0, 0.4]])),
            (lambda th: lawfit.kaplan_law(th, F), np.array([[0.08, 0.1, 30.0, 29.0]]))]
    for law, theta in laws:
        _, jac = law(theta)
        for p in range(theta.shape[1]):
            h = np.zeros_like(theta)
            h[0, p] = 1e-6
            numeric = (law(theta + h)[0] - law(theta - h)[0]) / 2e-6
            np.testing.assert_allclose(jac[0, :, p], numeric[0], rtol=1e-5, atol=1e-8)


def test_planted_recovery_noise_free():
    runs = compute_optimal.simulate(noise=0.0)
    assert len(runs["L"]) == 252
    j = lawfit.joint_fit(runs["N"], runs["D"], runs["L"])
    assert abs(j["alpha"] - TRUE["alpha"]) < 0.005 and abs(j["beta"] - TRUE["beta"]) < 0.005
    assert abs(j["E"] - TRUE["E"]) < 0.01
    _, _, a, b, _ = compute_optimal.compute_optimal_closed_form(j["A"], j["B"], j["alpha"], j["beta"], 1.0)
    assert abs(a - A_TRUE) < 0.01 and abs(b - (1 - A_TRUE)) < 0.01
    budgets = np.geomspace(runs["C"].min(), runs["C"].max(), 12)
    est, _ = compute_optimal.interpolation_estimator(runs, TRUE["E"], budgets)
    nn = est(np.ones(len(runs["L"])))
    assert abs(nn["a"] - A_TRUE) < 0.01 and abs(nn["b"] - (1 - A_TRUE)) < 0.01


def test_closed_form_equals_numerical_minimum():
    runs = compute_optimal.simulate(noise=0.01, seed=3)
    j = lawfit.joint_fit(runs["N"], runs["D"], runs["L"])
    law = {k: j[k] for k in ("E", "A", "B", "alpha", "beta")}
    for C in (1e18, 1e20, 1e23):
        Nstar, Dstar, _, _, _ = compute_optimal.compute_optimal_closed_form(j["A"], j["B"], j["alpha"], j["beta"], C)
        res = minimize_scalar(lambda x: lawfit.chinchilla_loss(np.exp(x), C / (6 * np.exp(x)), **law),
                              bracket=(np.log(Nstar) - 3, np.log(Nstar) + 3), tol=1e-12)
        assert abs(res.x - np.log(Nstar)) < 1e-5
        assert np.isclose(6 * Nstar * Dstar, C)


def test_screened_starts_find_the_all_starts_optimum():
    """L-BFGS from the 8 best-screened of the 4500 grid starts finds the optimum of L-BFGS from every start."""
    runs = compute_optimal.simulate(noise=0.02, seed=1, per_budget=6)
    spec = lawfit.joint_spec(runs["N"], runs["D"])
    logL = np.log(runs["L"])
    screened = lawfit.joint_fit(runs["N"], runs["D"], runs["L"])
    W = np.ones((len(spec["starts"]), len(logL)))
    _, f, ok = lawfit.lbfgs(lambda X, rows: lawfit.huber_objective(X, spec["law"], logL, W[rows]), spec["starts"])
    assert len(spec["starts"]) == 4500 and screened["converged"] and ok.mean() > 0.5
    assert screened["loss"] <= np.nanmin(f) * (1 + 1e-9)      # no start, converged or not, got lower
    # and scipy's L-BFGS-B, an independent implementation, cannot improve on it
    obj = lambda th: tuple(v[0] for v in lawfit.huber_objective(th[None], spec["law"], logL, np.ones((1, len(logL)))))
    polish = minimize(obj, screened["theta"], jac=True, method="L-BFGS-B", options=dict(ftol=1e-15, gtol=1e-12))
    assert polish.fun >= screened["loss"] * (1 - 1e-9)


@pytest.mark.parametrize("n_D, how", [(13, "budgets"), (11, "interpolated")])
def test_approach2_on_n_by_d_grids(n_D, how):
    """On an N x D grid whose diagonals share C the runs group into budgets; otherwise each model's losses are
    interpolated to shared budgets. Either way the parabolas find the planted exponent."""
    N, D = (g.ravel() for g in np.meshgrid(np.geomspace(3e7, 3e9, 9), np.geomspace(1e9, 1e12, n_D)))
    runs = dict(N=N, D=D, C=6 * N * D, L=lawfit.chinchilla_loss(N, D, **TRUE), floor=None, curves=None, N_alt=None)
    est, why = compute_optimal.isoflop_estimator(runs)
    res = est(np.ones(len(N)))
    assert why is None and res["how"].startswith(how)
    assert abs(res["a"] - A_TRUE) < 0.01 and abs(res["b"] - (1 - A_TRUE)) < 0.01


def test_kaplan_form_recovers_planted_kaplan_law():
    aN, aD, Nc, Dc = 0.076, 0.095, 8.8e13, 5.4e13      # Kaplan et al. 2020
    N, D = (g.ravel() for g in np.meshgrid(np.geomspace(1e6, 1e9, 8), np.geomspace(1e8, 1e11, 8)))
    L = ((Nc / N) ** (aN / aD) + Dc / D) ** aD
    k = lawfit.fit_law(lawfit.kaplan_spec(N, D), L)
    assert abs(k["alpha_N"] - aN) < 1e-3 and abs(k["alpha_D"] - aD) < 1e-3
    assert abs(np.log(k["N_c"] / Nc)) < 0.05 and abs(np.log(k["D_c"] / Dc)) < 0.05


def test_one_dimensional_power_law_with_known_floor():
    x = np.geomspace(1e5, 1e9, 9)
    L = 2.0 + 300.0 * x ** -0.4
    known = lawfit.fit_law(lawfit.power_law_spec(x, E=2.0), L)
    assert abs(known["alpha"] - 0.4) < 1e-6 and abs(known["A"] / 300 - 1) < 1e-5 and known["E"] == 2.0
    free = lawfit.fit_law(lawfit.power_law_spec(x), L)
    assert abs(free["alpha"] - 0.4) < 1e-4 and abs(free["E"] - 2.0) < 1e-3


def test_evidence_picks_the_planted_model():
    x = np.geomspace(1e6, 1e9, 10)
    noise = np.exp(0.002 * np.random.default_rng(0).standard_normal(10))
    planted = {"power law": 2.0 + 50 * x ** -0.3, "exponential": 2.0 + 1.5 * np.exp(-x / 2e8)}
    for truth, L in planted.items():
        L = L * noise
        power = lawfit.fit_law(lawfit.power_law_spec(x), L)
        expo = lawfit.fit_law(lawfit.power_law_spec(x, exponential=True), L)
        ev = fit.evidence(power, expo)
        assert ev["favoured"] == truth and abs(ev["delta_bic"]) > 10


def test_bootstrap_interval_covers_planted_exponents():
    runs = compute_optimal.simulate(noise=0.01, seed=7)
    spec = lawfit.joint_spec(runs["N"], runs["D"])
    j = lawfit.fit_law(spec, runs["L"])
    ci = lawfit.bootstrap_law(spec, runs["L"], j, n_boot=200, seed=0, quiet=True)["ci"]
    for key in ("alpha", "beta", "E", "a"):
        truth = A_TRUE if key == "a" else TRUE[key]
        assert ci[key][0] < truth < ci[key][1], (key, ci[key], truth)
        assert ci[key][1] - ci[key][0] < 0.5 * truth          # informative, not vacuous


def test_best_runs_picks_best_lr_and_flags_the_edge(capsys):
    def rec(width, lr, seed, loss):
        return dict(run=f"w{width}", status="ok", params=dict(total=width * 100, non_embedding=width * 90), tokens=1e6,
                    flops=6e8 * width, loss=loss, lr=lr, seed=seed, width=width, curve=[[5e5, loss + 0.1], [1e6, loss]])
    losses = {1e-3: (3.0, 3.2), 3e-3: (2.6, 2.8), 1e-2: (2.5, 3.5)}    # 1e-2 has the single lowest run, 3e-3 the lowest mean
    recs = [rec(1, lr, s, l) for lr, ls in losses.items() for s, l in enumerate(ls)]
    recs += [rec(2, lr, s, 2.0 + lr) for lr in losses for s in range(2)]    # best at the smallest lr: an edge
    best = {r["width"]: r for r in records.best_runs(recs)}
    assert best[1]["lr"] == 3e-3 and best[1]["loss"] == pytest.approx(2.7) and best[1]["seeds"] == 2
    assert not best[1]["lr_edge"] and best[1]["curve"][-1][1] == pytest.approx(2.7)
    assert best[2]["lr"] == 1e-3 and best[2]["lr_edge"]
    err = capsys.readouterr().err
    assert "edge of the lr grid" in err and "w2" in err and "w1" not in err


CONFIG = dict(graph="erdos-renyi", V=512, degree=4.0, graph_seed=0, n_layer=2, width=64, n_head=4, block_size=32,
              batch_size=32, tokens=1_000_000, data_tokens=0, param="mup", base_width=64, weight_decay=0.1,
              warmup=100, embed_lr_mult=1.0, start="stationary", grad_clip=1.0, lr=1e-3, seed=0)
OTHER = dict(graph="barabasi-albert", V=256, degree=8.0, graph_seed=1, n_layer=4, width=128, n_head=2, block_size=64,
             batch_size=16, tokens=2_000_000, data_tokens=500_000, param="sp", base_width=32, weight_decay=0.0,
             warmup=0, embed_lr_mult=10.0, start="uniform", grad_clip=0.0)


def test_best_runs_groups_by_the_whole_config_but_lr_and_seed():
    """Records differing in any config field but lr and seed are separate experiments, even where the
    model's shape and the token count agree; within one, seeds are averaged at the best lr."""
    def rec(config, loss):
        return dict(run="r", status="ok", params=dict(total=1000, non_embedding=900), tokens=1e6, flops=6e9,
                    loss=loss, lr=config["lr"], seed=config["seed"], config=config, curve=[[1e6, loss]])
    assert set(OTHER) == set(CONFIG) - {"lr", "seed"}
    recs = []
    for field in [None, *OTHER]:
        config = dict(CONFIG) if field is None else dict(CONFIG, **{field: OTHER[field]})
        for lr, shift in ((1e-3, 0.2), (3e-3, 0.0), (1e-2, 0.5)):
            recs += [rec(dict(config, lr=lr, seed=s), 3.0 + shift + 0.1 * s) for s in range(2)]
    best = records.best_runs(recs, warn_edge=False)
    assert len(best) == 1 + len(OTHER)
    assert len({json.dumps(r["config"], sort_keys=True) for r in best}) == len(best)
    for r in best:
        assert r["lr"] == 3e-3 and r["seeds"] == 2 and r["loss"] == pytest.approx(3.05)
        assert r["lr_grid"] == [1e-3, 3e-3, 1e-2] and not r["lr_edge"]


def test_records_cli_skips_broken_line_and_failed_runs(tmp_path):
    runs = compute_optimal.simulate(noise=0.01, seed=2, per_budget=10)
    records = records_from(runs)
    records[0] = dict(records[0], status="diverged")
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"run": "crashed", "sta')
    out = tmp_path / "fit.json"
    p = run_cli(str(tmp_path), "--boot", "20", "--nn-boot", "1", "--quiet", "--json", str(out))
    assert p.returncode == 0, p.stderr
    assert "skipping a line" in p.stderr
    res = json.loads(out.read_text())
    assert res["input"]["runs"] == len(records) - 1 and res["input"]["not_ok"] == 1
    assert set(res["joint"]["ci"]) >= {"E", "A", "B", "alpha", "beta"}
    for name in ("approach1", "approach2", "approach3", "interpolation"):
        co = res["compute_optimal"][name]
        assert abs(co["a"] - A_TRUE) < 0.06 and abs(co["b"] - (1 - A_TRUE)) < 0.06, (name, co["a"])


def test_csv_without_curves_skips_approach1_and_fits_chinchilla_data(tmp_path):
    out = tmp_path / "fit.json"
    p = run_cli(CHINCHILLA_CSV, "--n-col", "Model Size", "--c-col", "Training FLOP", "--boot", "10", "--nn-boot", "1",
                "--quiet", "--json", str(out))
    assert p.returncode == 0, p.stderr
    res = json.loads(out.read_text())
    assert res["input"]["runs"] == 245 and "skipped" in res["compute_optimal"]["approach1"]
    assert 0.3 < res["joint"]["alpha"] < 0.4


def test_chinchilla_data_reproduces_besiroglu_et_al():
    """Besiroglu et al. 2024 fit the digitised data to E=1.82, A=482, B=2085, α=0.348, β=0.366; without the five
    highest-loss runs (outliers, on which their numbers appear to be based) we find the same optimum."""
    runs = records.load_runs([CHINCHILLA_CSV], n_col="Model Size", d_col="D", loss_col="loss", c_col="Training FLOP")
    keep = np.argsort(runs["L"])[:-5]
    j = lawfit.joint_fit(runs["N"][keep], runs["D"][keep], runs["L"][keep])
    assert abs(j["E"] - 1.82) < 0.02 and abs(j["alpha"] - 0.348) < 0.01 and abs(j["beta"] - 0.366) < 0.01
    assert abs(np.log(j["A"] / 482)) < 0.1 and abs(np.log(j["B"] / 2085)) < 0.15


@pytest.mark.parametrize("content, name, extra", [
    ("", "empty.jsonl", []),
    ("", "empty.csv", []),
    ("N,loss\n1e6,3.0\n2e6,2.9\n", "nocol.csv", []),
    ("N,D,loss\n1e6,1e8,3.0\n2e6,1e8,2.9\n4e6,2e8,2.7\n8e6,4e8,2.5\n", "few.csv", []),
    ("N,D,loss\n" + "".join(f"1e6,{d},{3 - i / 10}\n" for i, d in enumerate((1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9))), "sameN.csv", []),
    ("N,D,loss\n1e6,1e8,3.0\n2e6,1e8,-2.9\n4e6,2e8,2.7\n8e6,4e8,2.5\n1e7,1e9,2.4\n", "negative.csv", []),
    ("N,D,loss\n1e6,1e8,3.0\n", "nofile.csv", ["missing.csv"]),
])
def test_bad_input_gives_one_line_and_exit_2(tmp_path, content, name, extra):
    path = tmp_path / name
    path.write_text(content)
    p = run_cli(*([str(tmp_path / e) for e in extra] or [str(path)]), "--quiet")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in p.stderr, p.stderr


def test_separable_law_gradient_and_planted_recovery():
    """L = E + (B + A/N^α)/D^β: the analytic Jacobian matches finite differences, and a noiseless planted law
    on a 6 x 8 grid is recovered, with the additive joint law fitting it worse (BIC favours separable)."""
    N, D = np.repeat(np.geomspace(1e4, 1e5, 6), 8), np.tile(np.geomspace(2e5, 6e6, 8), 6)
    F, theta = np.log(np.stack([N, D], 1)), np.array([[15.0, 9.0, 0.7, 0.9]])
    f, jac = lawfit.separable_law(theta, F, math.log(2.35))
    for k in range(4):
        step = np.zeros_like(theta)
        step[0, k] = 1e-6
        numeric = (lawfit.separable_law(theta + step, F, math.log(2.35))[0] - f) / 1e-6
        assert np.allclose(numeric, jac[..., k], atol=1e-5)
    L = 2.35 + (np.exp(9) + np.exp(15) * N ** -0.7) * D ** -0.9
    sep = lawfit.fit_law(lawfit.separable_spec(N, D, 2.35), L)
    assert sep["alpha"] == pytest.approx(0.7, rel=1e-3) and sep["beta"] == pytest.approx(0.9, rel=1e-3)
    joint = lawfit.fit_law(lawfit.joint_spec(N, D, 2.35), L)
    assert fit.evidence(joint, sep, ("additive", "separable"))["favoured"] == "separable"


# -----------------------------------------------------------------------------
# parameter efficiency (lawfit.compare_families, fit.py --compare)


def test_n_at_loss_inverts_the_law():
    """N(L) is the closed-form inverse of L = E + A·N^-α, and infinite at or below E."""
    N = np.geomspace(1e4, 1e6, 7)
    L = 2.0 + 30.0 * N ** -0.6
    assert np.allclose(lawfit.n_at_loss(2.0, 30.0, 0.6, L), N, rtol=1e-10)
    assert np.all(np.isinf(lawfit.n_at_loss(2.0, 30.0, 0.6, [2.0, 1.9])))


def efficiency_records(shift, seed=0, noise=0.002):
    """Records of two families on one D: μP with L(N) = 2 + 300·N^-0.6, SP needing `shift` times the
    parameters for the same loss (L_sp(N) = L_mup(N/shift)); SP also at a worse second lr per width."""
    rng = np.random.default_rng(seed)
    out = []
    for param, k in (("mup", 1.0), ("sp", shift)):
        for i, N in enumerate(np.geomspace(2e4, 2e5, 6)):
            for lr, extra in ((1e-2, 0.0), (3e-2, 0.05))[:1 if param == "mup" else 2]:
                loss = (2.0 + 300.0 * (N / k) ** -0.6 + extra) * math.exp(noise * rng.standard_normal())
                config = dict(param=param, width=16 * (i + 1), tokens=1_000_000, lr=lr, seed=0, embed_lr_mult=1.0)
                out.append(dict(run=f"{param}{i}{lr}", status="ok", params=dict(total=N, non_embedding=N), tokens=1_000_000,
                                flops=6 * N * 1e6, loss=loss, lr=lr, seed=0, config=config))
    return out


def test_compare_recovers_a_planted_parameter_ratio(tmp_path, capsys):
    """fit.py --compare on two planted families: the best lr of each width is kept, both exponents come back,
    and the N ratio at equal loss is the planted 2 within 5%, inside an interval less than a factor 1.6 wide
    (L* sits at the edge of SP's grid, where its law is least certain)."""
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in efficiency_records(2.0)))
    fit.main([str(path), "--compare", "param", "--boot", "100", "--quiet", "--json", str(tmp_path / "c.json"),
              "--plot", str(tmp_path)])
    res = json.load(open(tmp_path / "c.json"))
    assert res["reference"] == "param=mup" and res["D"] == 1_000_000
    sp, mup = res["laws"]["param=sp"], res["laws"]["param=mup"]
    assert abs(mup["alpha"] - 0.6) < 0.1 and abs(sp["alpha"] - 0.6) < 0.1
    lo, hi = sp["ratio"]["ci"]
    assert lo < 2.0 < hi and hi / lo < 1.6 and abs(sp["ratio"]["ratio"] - 2.0) < 0.1
    assert (tmp_path / "efficiency.png").stat().st_size > 0
    assert "N/N_ref" in capsys.readouterr().out


def test_ratio_interval_covers_the_planted_ratio():
    """Over 8 noise seeds the 95% interval of the ratio covers the planted 2 at least 4 times. Six widths
    are few for a percentile bootstrap (it undercovers: 5 of the first 6 seeds covered when measured), so the
    bound is loose: with a true coverage of 0.85, 3 or fewer covers out of 8 has probability 0.003."""
    covered = 0
    for seed in range(8):
        families = records.split_families(efficiency_records(2.0, seed=seed), ["param"])
        points = {label: records.family_points(rs, label, 1_000_000, "total")[0] for label, rs in families.items()}
        lo, hi = lawfit.compare_families(points, "param=mup", n_boot=100, quiet=True)["param=sp"]["ratio"]["ci"]
        covered += lo <= 2.0 <= hi
    assert covered >= 4


def test_compare_needs_two_families(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in efficiency_records(2.0) if r["config"]["param"] == "sp"))
    with pytest.raises(SystemExit) as e:
        fit.main([str(path), "--compare", "param", "--quiet"])
    assert e.value.code == 2

# -----------------------------------------------------------------------------
# the model-size term L(N, D = ∞) − E of expected-target runs (fit.infinite_data)


def target_record(i, N, excess, target="expected", tokens=1_000_000, floor=2.0, falling=0.0, first=None):
    """A minimal valid run record (what records.load_runs, best_runs and infinite_points read): width 8·(i+1), N
    parameters, a final excess of `excess` nats over `floor`, and a curve of 20 evaluations from `first` tokens
    (default D/20) to D that lies `falling` nats above the final excess at D/10, linearly in log tokens down to
    it at D (0: flat over the last decade)."""
    t = np.geomspace(first or tokens / 20, tokens, 20)
    above = falling * np.clip(np.log10(tokens / t), 0, None)
    width = 8 * (i + 1)
    return dict(run=f"{target[0]}{i}", group=f"{target}{i}", status="ok", target=target, width=width, floor=floor,
                params=dict(total=N, non_embedding=N, kaplan=N), tokens=tokens, flops=6.0 * N * tokens,
                loss=floor + excess, excess=excess, lr=0.02, seed=0, curve=[[float(a), floor + excess + float(b)]
                                                                            for a, b in zip(t, above)],
                config=dict(width=width, tokens=tokens, lr=0.02, seed=0, target=target))


def planted_records(log_excess, n=8, noise=0.02, seed=0):
    """Expected-target records at n widths, N log-spaced over 1e4..1e6, with log excess log_excess(N) plus
    Gaussian noise of sd `noise`."""
    rng = np.random.default_rng(seed)
    N = np.geomspace(1e4, 1e6, n)
    return [target_record(i, float(N_i), float(np.exp(log_excess(N_i) + noise * rng.standard_normal())))
            for i, N_i in enumerate(N)]


def logistic_step(N, lo=math.log(1e-4), hi=math.log(0.05), k=5.0, N_c=1e5):
    return lo + (hi - lo) / (1 + np.exp(k * (np.log(N) - math.log(N_c))))


def test_infinite_data_finds_a_planted_power_law():
    """excess = 50·N^-0.8 with 2% noise: the power law wins by BIC, and α's interval covers 0.8 and is narrow."""
    inf = fit.infinite_data(planted_records(lambda N: math.log(50) - 0.8 * math.log(N)), n_boot=200, quiet=True)
    assert inf["verdict"] == "power law" and inf["delta_bic"] > 6 and inf["unconverged"] == []
    lo, hi = inf["ci"]
    assert lo < 0.8 < hi and (hi - lo) / 2 < 0.05 and inf["alpha"] == inf["power_law"]["alpha"]
    assert set(inf["bic"]) == {"power law", "exponential", "threshold"} and inf["n"] == 8 and inf["clipped"] == 0


def test_infinite_data_finds_a_planted_threshold():
    """A logistic step in log N at N_c = 1e5 from 0.05 down to 1e-4 nats: the threshold wins, N_c's interval
    covers the planted one, and width_c lies between the widths around it."""
    inf = fit.infinite_data(planted_records(logistic_step, n=10), n_boot=200, quiet=True)
    t = inf["threshold"]
    assert inf["verdict"] == "threshold" and inf["delta_bic"] > 6 and "alpha" not in inf
    assert t["ci"][0] < 1e5 < t["ci"][1]
    around = [p["width"] for p in inf["points"] if 0.5 < p["N"] / t["N_c"] < 2]
    assert min(around) <= t["width_c"] <= max(around)


def test_infinite_data_finds_a_planted_exponential():
    """log excess = log 0.05 − N/3e5: the exponential wins, and s's interval covers 3e5."""
    inf = fit.infinite_data(planted_records(lambda N: math.log(0.05) - N / 3e5), n_boot=200, quiet=True)
    assert inf["verdict"] == "exponential" and inf["delta_bic"] > 6
    assert inf["exponential"]["ci"][0] < 3e5 < inf["exponential"]["ci"][1]


def test_a_run_still_falling_over_its_last_decade_is_left_out():
    """A curve 0.05 nats above its final excess at D/10 is unconverged (0.05 > max(10% of the excess, 1e-3)):
    reported by id, not fitted; one 0.5e-3 above is converged (within 1e-3 nats); a curve starting after D/10
    is measured from its first point and says so; excess below 1e-6 nats is clipped and counted."""
    recs = planted_records(lambda N: math.log(50) - 0.8 * math.log(N))
    recs[3] = target_record(3, recs[3]["params"]["total"], recs[3]["excess"], falling=0.05)
    recs[5] = target_record(5, recs[5]["params"]["total"], recs[5]["excess"], falling=5e-4)
    recs[6] = target_record(6, recs[6]["params"]["total"], recs[6]["excess"], first=300_000)
    recs.append(target_record(8, 2e6, -1e-7))  # float rounding below the floor
    inf = fit.infinite_data(recs, n_boot=50, quiet=True)
    point = {p["run"]: p for p in inf["points"]}
    assert inf["unconverged"] == ["e3"] and not point["e3"]["converged"] and inf["n"] == 8
    assert point["e3"]["drop"] == pytest.approx(0.05) and point["e5"]["converged"]
    assert point["e6"]["short"] and point["e6"]["drop_from"] == pytest.approx(300_000) and point["e6"]["converged"]
    assert inf["clipped"] == 1 and not point["e2"]["short"] and point["e2"]["drop_from"] == pytest.approx(100_000)
    assert "e3" in "\n".join(fit.report_infinite(inf))


def test_best_lr_then_most_tokens_per_N():
    """Of one width's runs the best lr of its experiment is kept, then the larger budget."""
    a = target_record(0, 1e4, 0.03)
    worse = dict(a, run="worse", lr=0.1, loss=a["loss"] + 0.1, excess=0.13, config=dict(a["config"], lr=0.1))
    longer = dict(target_record(0, 1e4, 0.02, tokens=2_000_000), run="longer", group="other")
    points = records.infinite_points([a, worse, longer])
    assert [p["run"] for p in points] == ["longer"] and points[0]["excess"] == pytest.approx(0.02)


def test_mixed_targets_are_fitted_apart(tmp_path):
    """Sampled-target records (old ones, without `target`) and expected-target ones in one directory: the
    joint fit sees only the sampled runs, infinite_data only the expected; a directory of expected-target
    records alone reports infinite_data and skips the joint fit in one line."""
    sampled = records_from(compute_optimal.simulate(noise=0.01, seed=2, per_budget=6))
    expected = planted_records(lambda N: math.log(50) - 0.8 * math.log(N))
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sampled + expected))
    out = tmp_path / "fit.json"
    p = run_cli(str(tmp_path / "mixed"), "--boot", "20", "--nn-boot", "1", "--quiet", "--json", str(out),
                "--plot", str(tmp_path / "plots"))
    assert p.returncode == 0, p.stderr
    res = json.loads(out.read_text())
    assert res["input"]["runs"] == len(sampled) and len(res["infinite_data"]["points"]) == len(expected)
    assert res["infinite_data"]["verdict"] == "power law" and "theta" not in res["infinite_data"]["power_law"]
    assert (tmp_path / "plots" / "infinite_data.png").stat().st_size > 0
    (tmp_path / "alone").mkdir()
    (tmp_path / "alone" / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in expected))
    p = run_cli(str(tmp_path / "alone"), "--boot", "20", "--quiet", "--json", str(out))
    assert p.returncode == 0, p.stderr
    res = json.loads(out.read_text())
    assert "joint" not in res and "no sampled-target runs" in res["skipped"] and res["infinite_data"]["n"] == 8
    assert p.stdout.startswith("Sampled-target fits: skipped")
