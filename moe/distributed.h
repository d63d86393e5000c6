// One run across several processes (ranks): where this process sits, and the collectives the
// trainer needs, over PyTorch's c10d (Gloo between CPU processes, NCCL between GPUs).
//
// Ranks come from the launcher (`moescale train --nproc-per-node N` starts N local ranks with
// MOESCALE_RANK, MOESCALE_WORLD_SIZE, MOESCALE_LOCAL_RANK, MOESCALE_MASTER_ADDR and
// MOESCALE_MASTER_PORT and MOESCALE_LOCAL_WORLD_SIZE set) or from Slurm under srun (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID; the rendezvous is the first node of SLURM_JOB_NODELIST, port 20000 +
// SLURM_JOB_ID % 20000, or MASTER_ADDR / MASTER_PORT when set). Rank 0 hosts the TCP store the
// ranks meet at.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moe {

struct RankInfo {
  int rank = 0, world = 1, local_rank = 0;
  int local_world = 1;  // ranks on this node
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  std::string source = "single process";  // "launcher", "srun"
  bool distributed() const { return world > 1; }
};

// This process's place, from the environment (above). Throws moe::InputError naming the
// variable when one is malformed.
RankInfo rank_from_environment();

// "node[01-04,07]" -> "node01"; "a,b" -> "a": the first host of a Slurm node list.
std::string first_slurm_host(const std::string& nodelist);

// Whether this build can run ranks on `device` (Gloo for CPUs, NCCL for CUDA), and if not why.
std::string collectives_unavailable(const c10::Device& device);

// The collectives of one run: a process group over a TCP store at the master. Every call is
// collective (all ranks, same order) and gives up after `timeout` with an error instead of
// hanging when a rank is gone.
class Collectives {
 public:
  Collectives(const RankInfo& me, const c10::Device& device, std::chrono::milliseconds timeout);
  ~Collectives();
  Collectives(const Collectives&) = delete;
  Collectives& operator=(const Collectives&) = delete;

  int rank() const { return me_.rank; }
  int world() const { return me_.world; }
  // Sums each tensor over the ranks, in place.
  void all_reduce_sum(std::vector<at::Tensor>& tensors);
  // The same sum started now and finished by wait() (which writes the sums into the tensors),
  // so that the caller goes on meanwhile (the backward, while gradients are summed).
  class PendingSum {
   public:
    ~PendingSum();
    void wait();

   private:
    friend class Collectives;
    struct State;
    std::unique_ptr<State> state_;
  };
  std::unique_ptr<PendingSum> start_sum(std::vector<at::Tensor> tensors);
  void all_reduce_max(std::vector<at::Tensor>& tensors);
  // Every rank gets root's tensors (same shapes on every rank), in place.
  void broadcast(std::vector<at::Tensor>& tensors, int root);
  void barrier();

 private:
  struct Impl;
  RankInfo me_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moe
