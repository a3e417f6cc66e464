import json
import subprocess
import sys
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import chain  # noqa: E402
import graphs  # noqa: E402
import walks  # noqa: E402


def dense_floor(P, p0, length):
    """Brute force: (1/T) Σ_t p0 P^t H with dense matrix powers."""
    P = P.toarray()
    with np.errstate(divide="ignore", invalid="ignore"):
        H = -np.nansum(np.where(P > 0, P * np.log(P), 0.0), axis=1)
    return np.mean([p0 @ np.linalg.matrix_power(P, t) @ H for t in range(length)])


@pytest.mark.parametrize("build", [
    lambda: graphs.erdos_renyi(300, 1200, kappa=1.0, seed=1),
    lambda: graphs.barabasi_albert(300, 3, kappa=0.5, seed=2),
    lambda: graphs.from_networkx(nx.gnp_random_graph(100, 0.08, seed=3, directed=True), kappa=1.0),
])
def test_chain_is_valid(build):
    g = build()
    P = g.P
    assert isinstance(P, sp.csr_matrix) and P.dtype == np.float64 and P.has_sorted_indices
    assert np.allclose(np.asarray(P.sum(axis=1)).ravel(), 1, atol=1e-14, rtol=0)
    assert (P.data > 0).all()
    pi = g.stationary()
    assert abs(pi.sum() - 1) < 1e-12 and (pi >= 0).all()
    assert np.abs(P.T @ pi - pi).sum() < 1e-12


@pytest.mark.parametrize("kappa", [0.0, 0.5, 1.0, 2.0])
def test_kappa_bias_is_power_law_in_rank(kappa):
    for G in [nx.complete_graph(12), nx.star_graph(20)]:
        g = graphs.from_networkx(G, kappa=kappa, seed=5)
        for i in range(g.V):
            p = np.sort(g.P[[i]].data)[::-1]
            w = np.arange(1, p.size + 1) ** -kappa
            np.testing.assert_allclose(p, w / w.sum(), rtol=1e-13)


def test_kappa_ranking_is_random_per_row():
    g = graphs.from_networkx(nx.complete_graph(12), kappa=1.0, seed=5)
    favourite = [g.P[[i]].indices[g.P[[i]].data.argmax()] for i in range(g.V)]
    assert len(set(favourite)) > 3  # not the same neighbour order in every row


def test_weights_times_rank_bias():
    G = nx.Graph()
    G.add_weighted_edges_from([(0, 1, 1.0), (0, 2, 2.0), (0, 3, 4.0), (1, 2, 1.0)])
    g = graphs.from_networkx(G, kappa=1.0, seed=0)
    rank = np.array([1.0, 2.0, 4.0]) / g.P[[0]].data  # P ∝ w / r, so w / P ∝ r
    np.testing.assert_allclose(np.sort(rank / rank.min()), [1, 2, 3], rtol=1e-12)
    g0 = graphs.from_networkx(G, kappa=0.0)
    np.testing.assert_allclose(g0.P[[0]].data, [1 / 7, 2 / 7, 4 / 7], rtol=1e-14)


def test_regular_graph_entropy_rate_is_log_k():
    for k in [3, 8]:
        g = graphs.from_networkx(nx.random_regular_graph(k, 200, seed=k))
        assert abs(g.entropy_rate() - np.log(k)) < 1e-12
        np.testing.assert_allclose(g.row_entropy(), np.log(k), rtol=1e-13)


def test_stationary_of_undirected_walk_is_degree_over_2E():
    for g in [graphs.erdos_renyi(2000, 6000, seed=0), graphs.barabasi_albert(500, 2, seed=1),
              graphs.from_networkx(nx.star_graph(10))]:  # the star is periodic: eigenvalue -1
        degree = np.diff(g.P.indptr)
        np.testing.assert_allclose(g.stationary(), degree / degree.sum(), rtol=1e-10, atol=0)


def test_stationary_of_slowly_mixing_chains():
    # κ-biased drifts on long paths and cycles: ARPACK stalls and the sparse LU solve takes over.
    # A walk on a tree is reversible, so on the path π_{i+1} = π_i P[i, i+1] / P[i+1, i] exactly.
    g = graphs.from_networkx(nx.path_graph(300), kappa=1.0, seed=0)
    P = g.P.toarray()
    ratio = np.array([P[i, i + 1] / P[i + 1, i] for i in range(g.V - 1)])
    truth = np.cumprod(np.append(1.0, ratio))
    np.testing.assert_allclose(g.stationary(), truth / truth.sum(), rtol=1e-9, atol=0)
    for G in [nx.cycle_graph(400), nx.lollipop_graph(50, 400)]:
        g = graphs.from_networkx(G, kappa=1.0, seed=0)
        pi = g.stationary()
        assert np.abs(g.P.T @ pi - pi).sum() < 1e-13 and abs(pi.sum() - 1) < 1e-13


def test_loss_floor():
    g = graphs.erdos_renyi(40, 120, kappa=1.0, seed=2)
    assert abs(g.loss_floor("stationary") - g.entropy_rate()) < 1e-12
    assert abs(g.loss_floor("uniform", 50) - dense_floor(g.P, np.full(g.V, 1 / g.V), 50)) < 1e-12
    assert abs(g.loss_floor("uniform", 1) - g.row_entropy().mean()) < 1e-14
    # a directed chain where the start matters: 0 -> {1,2} uniformly, 1 -> 0, 2 -> 0
    d = graphs.from_networkx(nx.DiGraph([(0, 1), (0, 2), (1, 0), (2, 0)]))
    assert abs(d.loss_floor("uniform", 2) - np.log(2) / 2) < 1e-15  # 1/3 log2 then 2/3 log2
    assert abs(d.loss_floor("stationary", 7) - np.log(2) / 2) < 1e-12
    with pytest.raises(ValueError):
        g.loss_floor("zipf")
    with pytest.raises(ValueError):
        g.loss_floor("uniform", 0)


def test_spectral_gap_matches_dense_eigenvalues():
    for g in [graphs.erdos_renyi(150, 600, kappa=1.0, seed=0), graphs.erdos_renyi(30, 60, seed=0)]:
        lam = np.sort(np.abs(np.linalg.eigvals(g.P.toarray())))[::-1]
        assert abs(g.spectral_gap() - (1 - lam[1])) < 1e-6
    # periodic chains have gap 0: bipartite graphs (-1 is an eigenvalue), a directed cycle of period 2
    period_2 = nx.DiGraph([(i, (i + 1) % 80) for i in range(80)] + [(0, 3)])  # cycles of 80 and 78
    for G in [nx.cycle_graph(100), nx.grid_2d_graph(10, 10), period_2]:
        assert graphs.from_networkx(G, kappa=1.0).spectral_gap() == 0.0
    odd = graphs.from_networkx(nx.cycle_graph(101))  # aperiodic: |λ_2| = cos(π / 101)
    assert abs(odd.spectral_gap() - (1 - np.cos(np.pi / 101))) < 1e-8


def test_largest_component_kept(capsys):
    G = nx.Graph()
    G.add_edges_from(nx.complete_graph(6).edges)                      # the big component: 6 nodes
    G.add_edges_from((u + 10, v + 10) for u, v in nx.path_graph(3).edges)  # a second one: 3 nodes
    G.add_nodes_from([20, 21])                                        # isolated nodes
    g = graphs.from_networkx(G)
    assert g.V == 6 and g.n_dropped == 5 and g.n_edges() == 15
    assert "dropped 5 of 11" in capsys.readouterr().err
    graphs.from_networkx(nx.complete_graph(4))
    assert capsys.readouterr().err == ""  # no warning when nothing is dropped


def test_directed_keeps_strongly_connected_component():
    # cycle 0->1->2->0, a tail 3->0, and a sink 2->4: 3 and 4 are dropped, and 2 now only goes to 0
    g = graphs.from_networkx(nx.DiGraph([(0, 1), (1, 2), (2, 0), (3, 0), (2, 4)]))
    assert g.directed and g.V == 3 and g.n_dropped == 2
    np.testing.assert_array_equal(g.P.toarray(), [[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="strongly connected"):
        graphs.from_networkx(nx.DiGraph([(0, 1), (1, 2)]))  # a DAG has no walk that goes on forever


def test_erdos_renyi_exact_edge_count_and_uniformity():
    g = graphs.erdos_renyi(200, 3000, seed=0)
    assert g.n_edges() == 3000 and g.P.diagonal().sum() == 0
    assert ((g.P > 0) != (g.P.T > 0)).nnz == 0  # undirected: symmetric pattern
    assert graphs.erdos_renyi(7, 21, seed=3).n_edges() == 21  # complete: every pair exactly once
    # every pair is equally likely to be an edge: 6 nodes, m = 10 of 15 pairs, pooled over 400 seeds
    # (binomial counts: std/mean = sqrt(0.5/400) = 0.035 across pairs)
    adjacency = [(g.P > 0).toarray() for g in (graphs.erdos_renyi(6, 10, seed=s) for s in range(400))
                 if g.V == 6]
    counts = np.sum(adjacency, axis=0)[np.triu_indices(6, 1)]
    assert len(adjacency) > 350 and counts.std() / counts.mean() < 0.1


def test_same_seed_same_graph():
    a = graphs.erdos_renyi(500, 2000, kappa=1.0, seed=4)
    b = graphs.erdos_renyi(500, 2000, kappa=1.0, seed=4)
    c = graphs.erdos_renyi(500, 2000, kappa=1.0, seed=5)
    assert (a.P != b.P).nnz == 0 and (a.P != c.P).nnz > 0


def test_bad_input_raises_value_error():
    for call in [lambda: graphs.erdos_renyi(3, 10), lambda: graphs.erdos_renyi(10, 0),
                 lambda: graphs.erdos_renyi(1, 1), lambda: graphs.erdos_renyi(10, 5, kappa=-1),
                 lambda: graphs.erdos_renyi(10, 5, kappa=float("nan")),
                 lambda: graphs.barabasi_albert(5, 5), lambda: graphs.barabasi_albert(5, 0),
                 lambda: graphs.from_networkx(nx.Graph([(0, 1, {"weight": -1.0})])),
                 lambda: graphs.from_networkx(nx.empty_graph(5)),
                 lambda: graphs.make("grid"), lambda: graphs.make("file"),
                 lambda: graphs.make("er", directed=True)]:
        with pytest.raises(ValueError):
            call()


def write(tmp_path, text):
    path = tmp_path / "edges.txt"
    path.write_text(text)
    return path


def test_edge_file_unweighted_undirected(tmp_path):
    path = write(tmp_path, "# a triangle and a pendant\nalice bob\nbob,carol\n carol alice # closing\n\ncarol dave\n")
    g = graphs.from_edge_file(path)
    assert g.V == 4 and g.n_edges() == 4 and not g.directed and g.name == "file"
    np.testing.assert_allclose(np.diff(g.P.indptr), [2, 2, 3, 1])  # labels numbered by first appearance
    assert graphs.make("file", edges_file=str(path)).V == 4


def test_edge_file_weighted_directed(tmp_path):
    path = write(tmp_path, "a b 1\nb a 3\nb c 1\nc a 2.5\nc d 1\n")  # d is a sink
    g = graphs.from_edge_file(path, directed=True)
    assert g.directed and g.V == 3 and g.n_dropped == 1
    np.testing.assert_allclose(g.P.toarray(), [[0, 1, 0], [0.75, 0, 0.25], [1, 0, 0]])
    u = graphs.from_edge_file(path)  # undirected: the last weight of a repeated edge wins
    np.testing.assert_allclose(u.P.toarray()[0], [0, 3 / 5.5, 2.5 / 5.5, 0])


@pytest.mark.parametrize("text, where", [("a b\nc\n", ":2:"), ("a b x\n", ":1:"), ("a b -1\n", ":1:"),
                                         ("a b 1 2\n", ":1:"), ("# nothing\n", "no edges")])
def test_edge_file_malformed(tmp_path, text, where):
    with pytest.raises(ValueError, match=where):
        graphs.from_edge_file(write(tmp_path, text))


def test_edge_file_not_text(tmp_path):
    path = tmp_path / "edges.bin"
    path.write_bytes(b"a b\n\xff\xfe c\n")
    with pytest.raises(ValueError, match="edges.bin:2: not UTF-8"):
        graphs.from_edge_file(path)


def test_edge_file_missing():
    with pytest.raises(OSError):
        graphs.from_edge_file("/nonexistent/edges.txt")


def test_describe():
    d = graphs.erdos_renyi(100, 400, kappa=1.0, seed=0).describe()
    assert d["V"] == 100 and d["n_edges"] == 400 and d["degree_mean"] == 8.0
    assert d["entropy_rate"] == pytest.approx(d["loss_floor_stationary"], abs=1e-12)
    assert d["entropy_rate"] < d["log_mean_degree"] and 0 < d["spectral_gap"] < 1


def run_cli(*args, script="theory.py"):
    """The command line `python theory.py graph ARGS`, or `python graphs.py ARGS` (which execs it)."""
    prefix = ["graph"] if script == "theory.py" else []
    return subprocess.run([sys.executable, str(ROOT / script), *prefix, *args], capture_output=True, text=True)


def test_cli(tmp_path):
    r = run_cli("er", "--nodes", "50", "--edges", "200", "--kappa", "1", "--json", str(tmp_path / "g.json"))
    assert r.returncode == 0 and "entropy_rate:" in r.stdout
    assert '"loss_floor_uniform"' in (tmp_path / "g.json").read_text()
    r = run_cli("er", "--nodes", "3", "--edges", "10")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    r = run_cli("file", "--edges-file", str(write(tmp_path, "a\n")))
    assert r.returncode == 2 and "edges.txt:1:" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args, message", [
    (["er", "--nodes", "5", "--edges", "100"], "error: edges must be <="),  # more edges than node pairs
    (["er", "--kappa", "nan"], "error: argument --kappa: not a finite number"),
    (["er", "--nodes", "x"], "error: argument --nodes: not a count"),
    (["ba", "--m", "-1"], "error: argument --m: not a whole"),
    (["percolation", "--L", "16", "--kind", "triangle"], "error: argument --kind: invalid choice"),
])
def test_cli_bad_values_are_one_line(args, message):
    r = run_cli(*args)
    assert r.returncode == 2 and r.stderr.startswith(message), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr and "usage:" not in r.stderr


def test_graphs_py_runs_theory_graph(tmp_path):
    """`python graphs.py ...` stays the public command: the same output, errors and status as theory.py graph."""
    for args in (["er", "--nodes", "50", "--edges", "200", "--kappa", "1"], ["er", "--nodes", "3", "--edges", "10"]):
        r, s = run_cli(*args, script="graphs.py"), run_cli(*args)
        assert (r.returncode, r.stdout, r.stderr) == (s.returncode, s.stdout, s.stderr)
    assert r.returncode == 2 and r.stderr.startswith("error: ")


def test_cli_unwritable_output_refused_before_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = run_cli("er", "--nodes", "50", "--edges", "200", "--json", str(blocker / "g.json"))
    assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stdout == ""


# -----------------------------------------------------------------------------
# bigram chains of a token sequence

def markov_tokens(V, n, seed, unseen=()):
    """n tokens of a random sparse Markov chain over V ids that never emits the ids in `unseen`."""
    rng = np.random.default_rng(seed)
    W = rng.random((V, V)) ** 4 * (rng.random((V, V)) < 0.3)
    W[:, list(unseen)] = 0
    W[np.arange(V), (np.arange(V) + 1) % V] += 0.01  # every row can move on
    W[:, list(unseen)] = 0
    W[W.sum(axis=1) == 0, V // 2] = 1
    cdf = np.cumsum(W / W.sum(axis=1, keepdims=True), axis=1)
    x, out = V // 2, np.empty(n, dtype=np.int64)
    for t, u in enumerate(rng.random(n)):
        out[t] = x = min(np.searchsorted(cdf[x], u), V - 1)
    return out


def dense_bigram(tokens, V):
    """Brute force: the cyclic bigram counts in a double loop, rows normalised; empty rows get the unigram."""
    C = np.zeros((V, V))
    for a, b in zip(tokens, list(tokens[1:]) + [tokens[0]]):
        C[a, b] += 1
    u = np.bincount(tokens, minlength=V) / len(tokens)
    return np.where(C.sum(axis=1, keepdims=True) > 0, C / np.maximum(C.sum(axis=1, keepdims=True), 1), u), u


def dense_stationary(P):
    """π from the dense linear system π(I - P) = 0, Σπ = 1 (least squares on the stacked equations)."""
    V = P.shape[0]
    A = np.vstack([(np.eye(V) - P).T, np.ones(V)])
    return np.linalg.lstsq(A, np.r_[np.zeros(V), 1.0], rcond=None)[0]


def dense_entropy(P):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.nansum(np.where(P > 0, P * np.log(P), 0.0), axis=1)


def test_bigram_by_hand():
    tokens = np.array([0, 1, 2, 1, 0, 1, 3], dtype=np.uint16)  # 4 and 5 never occur
    g = graphs.bigram(tokens, 6)
    u = np.array([2, 3, 1, 1, 0, 0]) / 7
    P = np.array([[0, 1, 0, 0, 0, 0],            # 0 -> 1 twice
                  [1 / 3, 0, 1 / 3, 1 / 3, 0, 0],  # 1 -> 2, 0, 3
                  [0, 1, 0, 0, 0, 0],
                  [1, 0, 0, 0, 0, 0],            # the last token is followed by the first: no sink
                  u, u])                         # tokens that never occur restart from the unigram
    np.testing.assert_allclose(g.P.toarray(), P, rtol=1e-15)
    np.testing.assert_allclose(g.P.toarray(), dense_bigram(tokens, 6)[0], rtol=1e-15)
    assert g.directed and g.V == 6 and g.P.has_sorted_indices and (g.P.data > 0).all()
    np.testing.assert_allclose(g.stationary(), u, rtol=1e-15)
    assert g.args["n_seen"] == 4 and g.args["n_tokens"] == 7 and g.args["zipf"] is None
    assert graphs.bigram([5, 5], 6).P[5, 5] == 1  # a one-token loop


@pytest.mark.parametrize("V, unseen", [(40, [0, 7, 39]), (90, [0, 3, 50, 89])])  # dense and sparse solvers
def test_bigram_stationary_entropy_rate_and_gap_match_dense(V, unseen):
    tokens = markov_tokens(V, 20_000, seed=V, unseen=unseen)
    g = graphs.bigram(tokens, V)
    P, u = dense_bigram(tokens, V)
    np.testing.assert_allclose(g.P.toarray(), P, rtol=1e-13, atol=1e-16)
    assert np.abs(g.P.sum(axis=1) - 1).max() < 1e-14
    pi = dense_stationary(P)
    np.testing.assert_allclose(g.stationary(), pi, atol=1e-13)
    np.testing.assert_allclose(g.stationary(), u, atol=1e-13)    # the unigram distribution, exactly
    assert (g.stationary()[unseen] == 0).all()                 # unseen tokens are transient
    np.testing.assert_allclose(chain._stationary(g.P), pi, atol=1e-12)  # the generic solver copes too
    assert abs(g.entropy_rate() - pi @ dense_entropy(P)) < 1e-12
    # = the corpus's conditional entropy H(next | current) over its (cyclic) pairs
    joint = np.bincount(tokens * V + np.roll(tokens, -1), minlength=V * V).reshape(V, V) / tokens.size
    with np.errstate(divide="ignore", invalid="ignore"):
        H = -np.nansum(np.where(joint > 0, joint * np.log(joint / joint.sum(axis=1, keepdims=True)), 0))
    assert abs(g.entropy_rate() - H) < 1e-12
    assert abs(g.loss_floor("stationary") - g.entropy_rate()) < 1e-12
    lam = np.sort(np.abs(np.linalg.eigvals(P)))[::-1]  # token 0 is transient: the period search skips it
    assert abs(g.spectral_gap() - (1 - lam[1])) < 1e-6


def test_bigram_period_skips_transient_tokens():
    g = graphs.bigram(np.tile([1, 2], 50), 4)  # period 2; tokens 0 and 3 never occur: transient
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no levels cast from inf for the nodes a search cannot reach
        assert chain._period(g.P, 1) == 2 and g.spectral_gap() == 0.0


def test_bigram_smoothing_adds_k():
    tokens = np.array([0, 1, 2, 1, 0, 1, 3])
    k, V = 0.5, 6
    g = graphs.bigram(tokens, V, smoothing=k)
    C = np.zeros((V, V))
    np.add.at(C, (tokens, np.roll(tokens, -1)), 1)
    np.testing.assert_allclose(g.P.toarray(), (C + k) / (C + k).sum(axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(g.stationary(), dense_stationary(g.P.toarray()), atol=1e-13)
    assert g.P.nnz == V * V and g.args["smoothing"] == 0.5
    with pytest.raises(ValueError, match="V²"):
        graphs.bigram(tokens, 8000, smoothing=1.0)  # 6.4e7 entries: refused before anything is allocated


def test_bigram_bad_input():
    for call in [lambda: graphs.bigram([[0, 1], [1, 0]], 2), lambda: graphs.bigram([0.0, 1.0], 2),
                 lambda: graphs.bigram([0], 2), lambda: graphs.bigram([0, 2], 2), lambda: graphs.bigram([0, -1], 2),
                 lambda: graphs.bigram([0, 1], 1), lambda: graphs.bigram([0, 1], 2.0),
                 lambda: graphs.bigram([0, 1], 2, smoothing=-1), lambda: graphs.bigram([0, 1], 2, smoothing=np.nan),
                 lambda: graphs.bigram([0, 1], 2, smoothing=True)]:
        with pytest.raises(ValueError):
            call()


def test_bigram_zipf_and_args():
    rng = np.random.default_rng(0)
    V = 2000
    p = 1.0 / np.arange(1, V + 1)  # Zipf's law, slope -1, on a shuffled set of ids
    tokens = rng.permutation(V)[rng.choice(V, 2_000_000, p=p / p.sum())]
    mine = dict(corpus="zipf")
    g = graphs.bigram(tokens, V, args=mine)
    zipf = g.args["zipf"]
    assert zipf["window"] == (10, 200) and abs(zipf["slope"] + 1) < 0.02 and zipf["r2"] > 0.99
    assert g.args["corpus"] == "zipf" and mine == dict(corpus="zipf")  # the caller's dict is not changed
    assert len(json.dumps(g.args)) < 1000  # JSON-serialisable and small


def test_bigram_walks_have_its_entropy_rate():
    """Monte Carlo: the plug-in conditional entropy of the transitions of stationary walks sampled by walks.py
    (Miller-Madow bias correction: + (cells - rows) / 2N) matches entropy_rate. With N = 10^6 transitions the
    standard error is ~ sd(log P) / sqrt(N) ~ 0.001 nats (seeds 3..7 missed by 0.0001..0.0015); the tolerance
    0.005 is ~5 of them."""
    V = 50
    g = graphs.bigram(markov_tokens(V, 50_000, seed=1, unseen=[0, 49]), V)
    w = walks.sample_walks(g, 2000, 501, seed=3)
    a, b = w[:, :-1].ravel(), w[:, 1:].ravel()
    C = np.bincount(a * V + b, minlength=V * V).reshape(V, V).astype(np.float64)
    N, rows = C.sum(), C.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        H = -np.nansum(np.where(C > 0, C / N * np.log(C / rows), 0.0))
    H += (np.count_nonzero(C) - np.count_nonzero(rows)) / (2 * N)
    assert np.isin(w, [0, 49]).sum() == 0  # a stationary walk never visits an unseen token
    assert abs(H - g.entropy_rate()) < 0.005, (H, g.entropy_rate())


def test_bigram_cli(tmp_path):
    path = tmp_path / "train.bin"
    markov_tokens(30, 5000, seed=0).astype(np.uint16).tofile(path)
    r = run_cli("bigram", "--tokens", str(path), "--V", "30", "--json", str(tmp_path / "b.json"))
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "b.json").read_text())
    assert summary["V"] == 30 and summary["directed"] and summary["args"]["tokens"] == str(path)
    path.write_bytes(b"abc")
    r = run_cli("bigram", "--tokens", str(path), "--V", "30")
    assert r.returncode == 2 and "uint16" in r.stderr and r.stderr.count("\n") == 1
