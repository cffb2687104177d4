#pragma once
// The linkage scenario (svd-synth scenario): several weeks of three partners' extracts drawn
// from one population, with people planted so that a hub's linkage can be checked against
// known answers. See synth.h for the layout of the files and the planted categories, and the
// manifest (scenario.json) for what exact-token linkage must find.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace svd::synth {

struct ScenarioOptions {
  std::string start;        // YYYY-MM-DD, a Monday: week 0 begins then
  std::uint64_t weeks = 6;  // 6 to 52: the rotation persons die in week 5, and past 52 weeks the
                            // historic records of a late death could no longer predate week 0
  std::uint64_t seed = 1;
};

struct ScenarioFile {
  std::string path;  // relative to the output folder, '/'-separated
  std::string bytes;
};

// Every file of the scenario, the manifest (scenario.json) last. The same options give the same
// bytes. Throws std::invalid_argument, with a message fit for the user, for a start that is not
// a Monday in YYYY-MM-DD form or a week count out of range.
std::vector<ScenarioFile> make_scenario(const ScenarioOptions& opt);

// Writes `files` under `out_dir`, creating folders as needed. A stale file from an earlier run
// (a week-2 school extract, say) would contradict the manifest, so `out_dir` must be absent or
// empty: std::invalid_argument otherwise. std::runtime_error when a file cannot be written.
void write_scenario(const std::filesystem::path& out_dir, const std::vector<ScenarioFile>& files);

}  // namespace svd::synth
