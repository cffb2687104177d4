#pragma once
// Deterministic synthetic extracts for the example feeds (deploy/examples/schemas). Nothing in
// them describes a real person: names are invented, NHS numbers come from the 999 test range
// (never issued to patients), postcodes only have a valid shape.
//
// The same (feed, rows, seed, options) gives byte-identical output on every platform and
// standard library, so tests can pin counts and the demo can be reproduced. death-reports and
// death-reports-jsonl with the same seed and options carry the same records.
//
// A row is defective with probability Options::invalid_rate, and then carries exactly ONE
// defect, so a gateway run must reject exactly the defective rows, each with the one code
// listed here, and accept every other row. Defect kinds are picked uniformly per defective row.
//
//   ed-assaults (UTF-8 CSV)
//     assault_datetime empty                          -> missing_required
//     assault_method "1X2"                            -> pattern_mismatch
//     arrival_datetime "2024-02-30T..."               -> invalid_datetime
//     assault_datetime in the year 2099               -> in_future
//
//   death-reports (UTF-8 CSV) and death-reports-jsonl (JSON Lines, same records)
//     nhs_number in the 999 range, wrong check digit  -> invalid_nhs_number
//     postcode with forbidden inward letters          -> invalid_postcode
//     date_of_birth "YYYY-02-30"                      -> invalid_date
//     date_of_death empty (JSONL: null or omitted)    -> missing_required
//     place_of_death_type "garden"                    -> not_in_enum
//     date_of_birth after date_of_death               -> invalid_age
//
//   school-exclusions (Windows-1252 CSV, DD/MM/YYYY dates)
//     date_of_birth "31/06/YYYY"-style                -> invalid_date
//     exclusion_type "expelled"                       -> not_in_enum
//     sessions negative ("-3")                        -> below_minimum
//     record_id "abc"                                 -> invalid_integer
//     surname empty                                   -> missing_required
//
// Every invented surname and forename has at least 5 letters, so tests can search gateway
// output for one without false hits. Cells of ed-assaults.assault_location_description may
// hold an LF inside quotes even with Options::crlf (as spreadsheet exports do).

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace svd::synth {

struct Options {
  double invalid_rate = 0.02;  // in [0, 1]; anything else throws std::invalid_argument
  bool crlf = false;           // CRLF row ends instead of LF (JSON Lines too)
};

// The feed ids generate() accepts, in a stable order.
std::vector<std::string> feeds();

// Writes a header row (CSV feeds) and `rows` data rows to `out`, streaming through a small
// buffer. Throws std::invalid_argument for an unknown feed or a bad invalid_rate, and
// std::runtime_error if `out` fails.
void generate(std::string_view feed, std::uint64_t rows, std::uint64_t seed, std::ostream& out,
              const Options& opt = {});

}  // namespace svd::synth
