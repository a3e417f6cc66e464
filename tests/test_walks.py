import itertools
import math
import sys
from collections import Counter
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.stats
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import chain  # noqa: E402
import graphs  # noqa: E402
import walks  # noqa: E402

BACKENDS = ["numpy", "torch"] + (["cuda"] if torch.cuda.is_available() else [])


def sampler(g, backend, seed=0, start="stationary"):
    if backend == "cuda":
        return walks.WalkSampler(g, "cuda", seed, start)
    return walks.WalkSampler(g, "cpu", seed, start, backend=backend)


def small_graphs():
    G = nx.Graph()
    G.add_weighted_edges_from([(0, 1, 1.0), (0, 2, 5.0), (1, 2, 0.5), (2, 3, 2.0), (3, 0, 1.0)])
    return [graphs.erdos_renyi(300, 1500, seed=0),              # κ = 0: uniform rows
            graphs.erdos_renyi(300, 1500, kappa=1.0, seed=1),
            graphs.barabasi_albert(2000, 2, kappa=2.0, seed=2),  # hubs with hundreds of neighbours
            graphs.from_networkx(G, kappa=0.5),
            graphs.from_networkx(nx.gnp_random_graph(60, 0.1, seed=4, directed=True), kappa=1.0)]


@pytest.mark.parametrize("g", small_graphs())
def test_alias_tables_reproduce_P_exactly(g):
    P = g.P
    prob, alias = walks.alias_tables(P)
    degree = np.diff(P.indptr)
    rows = np.repeat(np.arange(g.V), degree)
    assert (rows[alias] == rows).all() and (prob >= 0).all() and (prob <= 1).all()
    # slot s is picked with probability 1/k and kept with prob[s]; it also receives 1 - prob[t] from
    # every slot t aliased to it
    mass = (prob + np.bincount(alias, weights=1 - prob, minlength=P.nnz)) / degree[rows]
    np.testing.assert_allclose(mass, P.data, rtol=1e-12, atol=0)


def transition_counts(w, V):
    pairs = w[:, :-1].ravel() * V + w[:, 1:].ravel()
    return np.bincount(pairs, minlength=V * V).reshape(V, V)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampled_transitions_follow_P(backend):
    # κ = 1 on a small graph, 20000 walks x 50 steps = 10^6 transitions. Given how often each node is
    # left, the steps out of it are multinomial(P_i): pooled Pearson chi-square over all rows with
    # Σ_i (k_i - 1) degrees of freedom. The seeded test fails by chance with probability 1e-3.
    g = graphs.erdos_renyi(40, 160, kappa=1.0, seed=0)
    P = g.P.toarray()
    w = sampler(g, backend, seed=1).sample(20000, 51).cpu().numpy()
    counts = transition_counts(w, g.V)
    assert counts[P == 0].sum() == 0  # never a step along a non-edge
    expected = counts.sum(axis=1, keepdims=True) * P
    stat = ((counts - expected)[P > 0] ** 2 / expected[P > 0]).sum()
    dof = (P > 0).sum() - g.V
    assert scipy.stats.chi2.sf(stat, dof) > 1e-3
    # Monte Carlo entropy rate: mean -log P[x_t, x_t+1] on stationary walks
    nll = -np.log(P[w[:, :-1], w[:, 1:]]).mean()
    assert abs(nll - g.entropy_rate()) < 0.01


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("start", ["stationary", "uniform"])
def test_start_distribution(backend, start):
    g = graphs.barabasi_albert(50, 2, kappa=1.0, seed=0)
    first = sampler(g, backend, seed=2, start=start).sample(100_000, 1).cpu().numpy()[:, 0]
    counts = np.bincount(first, minlength=g.V)
    assert scipy.stats.chisquare(counts, 1e5 * g.start_distribution(start)).pvalue > 1e-3


@pytest.mark.parametrize("backend", BACKENDS)
def test_hub_rows_are_sampled_right(backend):
    # a star with 3000 leaves and κ = 1: steps out of the hub (half of all stationary starts) are Zipf
    # over the leaves; leaves pooled 100 at a time, by rank, so that every expected count is >= 5
    g = graphs.from_networkx(nx.star_graph(3000), kappa=1.0, seed=0)
    w = sampler(g, backend, seed=3).sample(400_000, 2).cpu().numpy()
    hub = np.diff(g.P.indptr).argmax()
    row = g.P[[hub]]
    counts = np.bincount(w[w[:, 0] == hub, 1], minlength=g.V)[row.indices]
    by_rank = np.argsort(row.data)[::-1]
    observed = counts[by_rank].reshape(-1, 100).sum(1)
    expected = counts.sum() * row.data[by_rank].reshape(-1, 100).sum(1)
    assert scipy.stats.chisquare(observed, expected).pvalue > 1e-3


def test_same_seed_same_walks_and_streams_continue():
    g = graphs.erdos_renyi(100, 400, kappa=1.0, seed=0)
    for backend in BACKENDS:
        a = sampler(g, backend, seed=7).sample(50, 11)
        assert torch.equal(a, sampler(g, backend, seed=7).sample(50, 11))
        assert not torch.equal(a, sampler(g, backend, seed=8).sample(50, 11))
        s = sampler(g, backend, seed=7)
        b = s.sample(50, 11)
        assert not torch.equal(b, s.sample(50, 11)) and torch.equal(b, s.manual_seed(7).sample(50, 11))
    w = walks.sample_walks(g, 30, 11, seed=7)
    assert isinstance(w, np.ndarray) and w.dtype == np.int64 and w.shape == (30, 11)
    np.testing.assert_array_equal(w, sampler(g, "numpy", seed=7).sample(30, 11).numpy())


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_chunks_continue_one_stream(backend, monkeypatch):
    g = graphs.erdos_renyi(100, 400, kappa=1.0, seed=0)
    monkeypatch.setattr(walks, "CHUNK", 7)
    whole = sampler(g, backend, seed=1).sample(20, 5)
    s = sampler(g, backend, seed=1)
    assert torch.equal(whole, torch.cat([s.sample(7, 5), s.sample(7, 5), s.sample(6, 5)]))


@pytest.mark.parametrize("block", [walks.BLOCK, 16])  # 16: two batches per sampled block
def test_fresh_batches_resume(block, monkeypatch):
    monkeypatch.setattr(walks, "BLOCK", block)
    g = graphs.erdos_renyi(100, 400, seed=0)
    batches = list(itertools.islice(walks.fresh_batches(g, 8, 51, seed=3), 5))
    assert all(b.shape == (8, 51) and b.dtype == torch.int64 for b in batches)
    for k in [1, 2, 3]:
        assert torch.equal(next(walks.fresh_batches(g, 8, 51, seed=3, step=k)), batches[k])
    assert len({tuple(b[0].tolist()) for b in batches}) == 5
    assert not torch.equal(batches[0], next(walks.fresh_batches(g, 8, 51, seed=4)))


def test_fixed_dataset_epochs_and_resume():
    g = graphs.erdos_renyi(100, 400, seed=0)
    # 95 tokens at 10 per walk: 10 walks; batches of 4 run across epoch ends
    stream = walks.fixed_dataset_batches(g, 95, 4, 10, seed=3)
    batches = list(itertools.islice(stream, 10))  # 40 places = 4 epochs
    assert all(b.shape == (4, 10) for b in batches)
    seen = torch.cat(batches).reshape(4, 10, 10)
    dataset = {tuple(r) for r in seen[0].tolist()}
    assert len(dataset) == 10
    for epoch in seen:  # every epoch is the same 10 walks, in a new order
        assert sorted(map(tuple, epoch.tolist())) == sorted(dataset)
    assert not torch.equal(seen[0], seen[1])
    resumed = walks.fixed_dataset_batches(g, 95, 4, 10, seed=3, step=7)
    assert torch.equal(next(resumed), batches[7])


def test_eval_set_is_held_out_and_fixed():
    g = graphs.erdos_renyi(1000, 5000, seed=0)
    e = walks.eval_set(g, 16, 51, seed=3)
    assert torch.equal(e, walks.eval_set(g, 16, 51, seed=3))
    assert not torch.equal(e, next(walks.fresh_batches(g, 16, 51, seed=3)))
    assert not torch.equal(e, next(walks.fixed_dataset_batches(g, 16 * 51, 16, 51, seed=3)))


def dense_expected_loss(log_probs, tokens, P):
    P = torch.as_tensor(P.toarray(), dtype=log_probs.dtype)
    return -(P[tokens] * log_probs).sum(-1).mean()


@pytest.mark.parametrize("g", [graphs.erdos_renyi(50, 200, kappa=1.0, seed=0),
                               graphs.barabasi_albert(400, 2, kappa=1.0, seed=0)])  # hub: ~50 neighbours
def test_expected_loss_matches_dense(g):
    torch.manual_seed(0)
    logits = torch.randn(3, 7, g.V, dtype=torch.float64, requires_grad=True)
    tokens = torch.from_numpy(walks.sample_walks(g, 3, 7, seed=0))
    tokens[0, 0] = int(np.diff(g.P.indptr).argmax())  # make sure the biggest hub is in there
    loss = walks.expected_loss(torch.log_softmax(logits, -1), tokens, g)
    dense = dense_expected_loss(torch.log_softmax(logits, -1), tokens, g.P)
    assert loss.shape == () and abs(loss.item() - dense.item()) < 1e-12
    grad, = torch.autograd.grad(loss, logits)
    dense_grad, = torch.autograd.grad(dense, logits)
    torch.testing.assert_close(grad, dense_grad, rtol=1e-12, atol=1e-15)


def test_expected_loss_of_the_truth_is_the_row_entropy():
    g = graphs.barabasi_albert(300, 3, kappa=1.0, seed=1)
    tokens = torch.from_numpy(walks.sample_walks(g, 4, 9, seed=0))
    with np.errstate(divide="ignore"):
        log_P = torch.from_numpy(np.log(g.P.toarray()))  # -inf off the edges: must never be read
    loss = walks.expected_loss(log_P[tokens], tokens, g)
    assert abs(loss.item() - g.row_entropy()[tokens.numpy()].mean()) < 1e-12
    # float32 and bfloat16 inputs give float32 sums
    lp = torch.log_softmax(torch.randn(4, 9, g.V), -1)
    assert walks.expected_loss(lp.bfloat16(), tokens, g).dtype == torch.float32


def eval_floor_graphs():
    tokens = np.random.default_rng(0).zipf(1.5, 20_000) % 150  # a Zipfian "text": hubs and rare tokens
    return [graphs.erdos_renyi(60, 240, kappa=1.0, seed=0), graphs.barabasi_albert(300, 3, kappa=1.0, seed=1),
            graphs.bigram(tokens, 160)]  # 160 > 150: rows of tokens that never occur, too


def log_P(g):
    with np.errstate(divide="ignore"):
        return torch.from_numpy(np.log(g.P.toarray()))  # -inf off the edges: expected_loss never reads them


@pytest.mark.parametrize("g", eval_floor_graphs())
def test_eval_floor_is_the_expected_loss_of_P_itself(g):
    """The model q = P (log P gathered for each input) scores exactly the eval set's floor."""
    x = walks.eval_set(g, 40, 51, seed=5)[:, :-1]
    floor = walks.eval_floor(x, g)
    assert isinstance(floor, float) and abs(walks.expected_loss(log_P(g)[x], x, g).item() - floor) < 1e-9
    assert floor == walks.eval_floor(x.numpy(), g)  # a tensor or an array


@pytest.mark.parametrize("g", eval_floor_graphs())
def test_no_model_scores_below_the_eval_floor(g):
    """Gibbs: the cross-entropy against P is at least its entropy, on every input, for any q: random
    log-softmax outputs (sharp and flat), and P reweighted on its own edges by e^(0.001 noise), which comes
    within ~4e-7 nats of the floor (second order), closer than the eval set's offset from the population
    floor on these graphs (3e-4 to 0.06 nats)."""
    x = walks.eval_set(g, 8, 21, seed=6)[:, :-1]
    floor, truth = walks.eval_floor(x, g), log_P(g)[x]
    for seed in range(40):
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn(*x.shape, g.V, generator=gen, dtype=torch.float64)
        random = torch.log_softmax(noise * (0.1 + seed / 4), -1)
        near_P = torch.log_softmax(truth + 1e-3 * noise, -1)
        for lp in (random, near_P):
            assert walks.expected_loss(lp, x, g).item() - floor >= 0


@pytest.mark.parametrize("g", eval_floor_graphs())
def test_eval_floor_by_brute_force(g):
    """The floor is the plain mean, over every input token, of -Σ_j P_ij log P_ij of its row."""
    x = walks.eval_set(g, 10, 31, seed=7)[:, :-1]
    total = 0.0
    for i in x.flatten().tolist():
        row = g.P.getrow(i).toarray()[0]
        total += -sum(p * math.log(p) for p in row if p > 0)
    assert abs(walks.eval_floor(x, g) - total / x.numel()) < 1e-12
    assert abs(walks.eval_floor(x[:1, :1], g) - g.row_entropy()[x[0, 0]]) < 1e-15  # one prediction: its row


def test_bad_input():
    g = graphs.erdos_renyi(50, 300, seed=0)
    with pytest.raises(ValueError):
        walks.expected_loss(torch.zeros(2, 3, g.V - 1), torch.zeros(2, 3, dtype=torch.long), g)
    with pytest.raises(ValueError):
        walks.expected_loss(torch.zeros(2, 3, g.V), torch.zeros(2, 4, dtype=torch.long), g)
    for call in [lambda: walks.sample_walks(g, 0, 5), lambda: walks.sample_walks(g, 5, 0),
                 lambda: walks.sample_walks(g, 5, 5, seed=-1), lambda: walks.sample_walks(g, 5, 5, start="zipf"),
                 lambda: walks.WalkSampler(g, backend="jax"),
                 lambda: walks.eval_floor(torch.zeros(2, 0, dtype=torch.long), g),
                 lambda: next(walks.fixed_dataset_batches(g, 0, 4, 10)),
                 lambda: next(walks.fresh_batches(g, 0, 10))]:
        with pytest.raises(ValueError):
            call()


# the count baseline

def test_transition_counts_are_the_pairs_seen():
    g = graphs.barabasi_albert(40, 2, seed=1)
    batch = walks.WalkSampler(g, seed=3).sample(30, 12)
    counts = chain.transition_counts([batch, batch[:5]], g)
    pairs = Counter(zip(np.r_[batch[:, :-1].ravel(), batch[:5, :-1].ravel()].tolist(),
                        np.r_[batch[:, 1:].ravel(), batch[:5, 1:].ravel()].tolist()))
    P = g.P.tocoo()
    expected = [pairs.get((i, j), 0) for i, j in zip(*g.P.nonzero())]
    assert counts.tolist() == expected and counts.sum() == 35 * 11 and P.nnz == len(counts)


def test_loo_smoothing_maximises_the_brute_force_leave_one_out_likelihood():
    """Leave each observed transition out, estimate q with add-k from the rest, score it: the rule's k is
    the best of the grid by that brute-force likelihood."""
    g = graphs.erdos_renyi(12, 20, seed=0)
    counts = chain.transition_counts([walks.WalkSampler(g, seed=0).sample(3, 15)], g)
    rows = np.repeat(np.arange(g.V), np.diff(g.P.indptr))
    grid = np.logspace(-3, 1, 9)

    def brute(k):
        total = 0.0
        for e in np.flatnonzero(counts):
            c = counts.copy()
            c[e] -= 1
            row_total = c[rows == rows[e]].sum()
            total += counts[e] * math.log((c[e] + k) / (row_total + k * g.V))
        return total
    assert chain.loo_smoothing(counts, g, grid) == grid[int(np.argmax([brute(k) for k in grid]))]


def test_count_loss_is_the_floor_for_exact_counts_and_log_v_for_none():
    g = graphs.barabasi_albert(50, 3, seed=2, kappa=1.0)
    ev = walks.eval_set(g, 20, 11, 5)
    exact = np.round(g.P.data * 1e12).astype(np.int64)  # counts proportional to P: q = P up to 1e-12
    assert chain.count_loss(exact, 1e-9, ev, g) == pytest.approx(walks.eval_floor(ev[:, :-1], g), abs=1e-8)
    assert chain.count_loss(np.zeros(g.P.nnz, np.int64), 0.5, ev, g) == pytest.approx(math.log(g.V))


def test_the_count_baseline_excess_falls_as_one_over_d():
    """The parametric rate: an estimate of P's finitely many entries from D transitions has excess ~ 1/D
    (the KL of a multinomial MLE is (degree − 1)/(2 · count) per row). Seeded; the slope in log-log over
    1.5 decades must be within [-1.2, -0.8]."""
    g = graphs.erdos_renyi(100, 400, seed=0)
    ev = walks.eval_set(g, 100, 51, 7)
    floor = walks.eval_floor(ev[:, :-1], g)
    curve = chain.count_curve(g, [100_000, 300_000, 1_000_000, 3_000_000], walks.fresh_batches(g, 50, 51, seed=0), ev)
    D, excess = np.array([c[0] for c in curve]), np.array([c[2] for c in curve]) - floor
    slope = np.polyfit(np.log(D), np.log(excess), 1)[0]
    assert -1.2 <= slope <= -0.8 and (excess > 0).all()
