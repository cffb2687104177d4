// svd-synth: writes one synthetic extract, or a multi-partner linkage scenario, for tests and the
// demo (see synth.h).

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tests/synth/scenario.h"
#include "tests/synth/synth.h"

namespace {

void print_usage(std::ostream& os) {
  os << "usage: svd-synth FEED ROWS OUT_PATH [SEED] [--invalid-rate R] [--crlf]\n"
        "       svd-synth scenario OUT_DIR --start YYYY-MM-DD [--weeks N] [--seed S]\n"
        "  FEED            one of:";
  for (const std::string& f : svd::synth::feeds()) os << ' ' << f;
  os << "\n"
        "  ROWS            number of data rows\n"
        "  OUT_PATH        file to write, or - for standard output\n"
        "  SEED            unsigned 64-bit seed (default 1); same arguments, same bytes\n"
        "  --invalid-rate  share of rows carrying one deliberate defect, 0..1 (default 0.02)\n"
        "  --crlf          CRLF line ends instead of LF\n"
        "scenario: weekly ed-attendances, school-exclusions and death-reports extracts of one\n"
        "population with planted linkage cases, and OUT_DIR/scenario.json saying what to expect\n"
        "  OUT_DIR         folder to write; must be empty or not exist\n"
        "  --start         the Monday week 0 begins\n"
        "  --weeks         number of weeks, 6..52 (default 6)\n"
        "  --seed          unsigned 64-bit seed (default 1); same arguments, same bytes\n"
        "exit status: 0 written, 1 bad arguments, 2 could not write\n";
}

int usage_error(std::string_view problem) {
  std::cerr << "svd-synth: " << problem << '\n';
  print_usage(std::cerr);
  return 1;
}

// from_chars: locale-independent and strict (no sign, no spaces, no trailing junk).
bool parse_u64(std::string_view text, std::uint64_t& value) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return !text.empty() && ec == std::errc() && ptr == end;
}

bool parse_rate(std::string_view text, double& value) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return !text.empty() && ec == std::errc() && ptr == end && value >= 0.0 && value <= 1.0;
}

// `name VALUE` or `name=VALUE`; false when argv[i] is neither. Advances i past a separate value.
bool option_value(int argc, char** argv, int& i, std::string_view name, std::string_view& value, bool& missing) {
  const std::string_view arg = argv[i];
  if (arg == name) {
    missing = i + 1 == argc;
    if (!missing) value = argv[++i];
    return true;
  }
  if (arg.size() > name.size() && arg.starts_with(name) && arg[name.size()] == '=') {
    value = arg.substr(name.size() + 1);
    return true;
  }
  return false;
}

int scenario_main(int argc, char** argv) {
  svd::synth::ScenarioOptions opt;
  std::vector<std::string_view> positional;
  bool have_start = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      print_usage(std::cout);
      return 0;
    }
    std::string_view value;
    bool missing = false;
    if (option_value(argc, argv, i, "--start", value, missing)) {
      if (missing) return usage_error("--start needs a value");
      opt.start = value;
      have_start = true;
    } else if (option_value(argc, argv, i, "--weeks", value, missing)) {
      if (missing || !parse_u64(value, opt.weeks)) return usage_error("--weeks must be a non-negative integer");
    } else if (option_value(argc, argv, i, "--seed", value, missing)) {
      if (missing || !parse_u64(value, opt.seed)) return usage_error("--seed must be a non-negative integer");
    } else if (arg.size() > 1 && arg.front() == '-') {
      return usage_error("unknown option " + std::string(arg));
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 1) return usage_error("expected scenario OUT_DIR --start YYYY-MM-DD");
  if (!have_start) return usage_error("scenario needs --start YYYY-MM-DD (a Monday)");
  const std::filesystem::path out_dir(positional[0]);

  std::vector<svd::synth::ScenarioFile> files;
  try {
    files = svd::synth::make_scenario(opt);
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  }
  try {
    svd::synth::write_scenario(out_dir, files);
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  } catch (const std::exception& e) {
    std::cerr << "svd-synth: " << e.what() << '\n';
    return 2;
  }
  // Counts and paths only: the files hold (synthetic) identifiers, the terminal never does.
  std::cout << "svd-synth: scenario of " << opt.weeks << " weeks written to " << out_dir.string() << " ("
            << files.size() - 1 << " extracts; manifest " << (out_dir / "scenario.json").string() << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "scenario") return scenario_main(argc, argv);
  svd::synth::Options opt;
  std::vector<std::string_view> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::string_view rate;
    if (arg == "--crlf") {
      opt.crlf = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      print_usage(std::cout);
      return 0;
    }
    if (arg == "--invalid-rate") {
      if (i + 1 == argc) return usage_error("--invalid-rate needs a value");
      rate = argv[++i];
    } else if (arg.starts_with("--invalid-rate=")) {
      rate = arg.substr(std::string_view("--invalid-rate=").size());
    } else if (arg.size() > 1 && arg.front() == '-') {
      return usage_error("unknown option " + std::string(arg));
    } else {
      positional.push_back(arg);
      continue;
    }
    if (!parse_rate(rate, opt.invalid_rate)) return usage_error("--invalid-rate must be a number in [0, 1]");
  }

  if (positional.size() < 3 || positional.size() > 4) return usage_error("expected FEED ROWS OUT_PATH [SEED]");
  const std::string_view feed = positional[0];
  const std::vector<std::string> known = svd::synth::feeds();
  if (std::find(known.begin(), known.end(), feed) == known.end())
    return usage_error("unknown feed " + std::string(feed));
  std::uint64_t rows = 0;
  if (!parse_u64(positional[1], rows)) return usage_error("ROWS must be a non-negative integer");
  std::uint64_t seed = 1;
  if (positional.size() == 4 && !parse_u64(positional[3], seed))
    return usage_error("SEED must be a non-negative integer");
  const std::string path(positional[2]);

  try {
    if (path == "-") {
      svd::synth::generate(feed, rows, seed, std::cout, opt);
      std::cout.flush();
      if (!std::cout) throw std::runtime_error("writing to standard output failed");
      return 0;
    }
    // Binary mode: the bytes, line ends included, must be exactly what generate() chose.
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    if (!file) throw std::runtime_error("cannot open " + path + " for writing");
    svd::synth::generate(feed, rows, seed, file, opt);
    file.close();
    if (!file) throw std::runtime_error("writing " + path + " failed");
  } catch (const std::exception& e) {
    std::cerr << "svd-synth: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
