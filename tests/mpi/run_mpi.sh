#!/usr/bin/env bash
# Runs a program on NP ranks of this machine: run_mpi.sh MPIEXEC NP PROGRAM [ARGS...].
# --oversubscribe: the ranks may outnumber the cores (CI has two); --allow-run-as-root where the
# tests run as root (CI's containers do). Each rank's build threads default to its share of the
# cores (the distributed build divides them by the ranks on the node).
set -euo pipefail
mpiexec=$1 np=$2
shift 2
flags=(-np "$np" --oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
# No InfiniBand, no network interfaces to probe in a container: shared memory between the ranks.
export OMPI_MCA_btl=self,vader
export OMPI_MCA_btl_vader_single_copy_mechanism=none
exec "$mpiexec" "${flags[@]}" "$@"
