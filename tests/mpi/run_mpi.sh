#!/usr/bin/env bash
# Runs a program on NP ranks of this machine: run_mpi.sh MPIEXEC NP PROGRAM [ARGS...].
# --oversubscribe: the ranks may outnumber the cores (CI has two); --allow-run-as-root where the
# tests run as root (CI's containers do); --bind-to none: OpenMPI binds each of two ranks to one
# core by default, which would leave rank 0 one core for the stages it runs alone. Each rank's
# build threads default to its share of the cores (the distributed build divides them by the
# ranks on the node).
set -euo pipefail
mpiexec=$1 np=$2
shift 2
flags=(-np "$np" --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
# Shared memory between the ranks (no InfiniBand or network interfaces to probe), copied through
# its buffers: single-copy transfers (CMA) need ptrace rights that containers may not grant.
# The benchmark (bench/mpi_ranks.sh) asks for CMA where it measures.
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
exec "$mpiexec" "${flags[@]}" "$@"
