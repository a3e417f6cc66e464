#!/bin/sh
# L(N, D = infinity) on the walk datasets (docs/results.md, "The two terms apart"): every spec here, expected
# target, into docs/infinite/<dataset>/. Resumable: rerun to finish. About an hour with --jobs 2 on 2 cores.
cd "$(dirname "$0")/../.." || exit 2
for name in er250_d10 er250_d5 er250_d20 er1000_d10 er250_d10_k1 ba1000_m5 er500_d100; do
  for part in large small; do
    python sweep.py "docs/infinite/$name.$part.json" --out "docs/infinite/$name" --jobs 2 || exit $?
  done
done
