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
//   ambulance-callouts (UTF-8 CSV; about half the rows are outside the feed's svd:filter, never
//   a defective one)
//     patient_age negative ("-23")                    -> invalid_age
//     dispatch_code "ASLT"                            -> pattern_mismatch
//     patient_age "unknown"                           -> invalid_integer
//     call_datetime empty                             -> missing_required
//
// Every invented surname and forename has at least 5 letters, so tests can search gateway
// output for one without false hits. Cells of ed-assaults.assault_location_description may
// hold an LF inside quotes even with Options::crlf (as spreadsheet exports do).
//
// The linkage scenario (scenario.h; `svd-synth scenario OUT_DIR --start MONDAY [--weeks N]
// [--seed S]`) is something else: N weekly deliveries of three partners drawn from ONE
// population, no defective rows, so that a hub's linkage can be checked against known answers.
// A person has the same NHS number, name and date of birth in every source unless planted
// otherwise, and one postcode, from a dozen weighted districts of an invented area (NX).
//
//   OUT_DIR/ed-attendances/week-K.csv     schema ed-attendances (identified ED, UTF-8)
//   OUT_DIR/school-exclusions/week-K.csv  as the school-exclusions feed above (Windows-1252)
//   OUT_DIR/death-reports/week-K.csv      as the death-reports feed above
//   OUT_DIR/scenario.json                 the manifest: deliveries {feed, week, file,
//                                         deliver_at, rows}, missed, key_rotation_week,
//                                         planted, background_rows, expected
//
// Week K runs from Monday start+7K to Sunday; its files are delivered on its Friday at 12:00Z
// and hold nothing dated later (weekly events end Friday 11:00). Week 0 is a historic load:
// ED and school records of the 30 months before the start, and the coroner's backlog of the 3
// months before it; later weeks hold only that week's events, and from week 1 on one death a
// week of someone with no other record. The council misses week 2 (no file). The linkage key
// rotates in week 3 (the gateways' configs must make week 3 the overlap): week 3's records carry
// both tokens, and every planted series but `rotation` lies in weeks 0 to 3, so it links whatever
// the keys.
//
// Planted, each a distinct person (NHS number; normalised name and date of birth):
//   linked_ed_school 6        death in weeks 1..3; 1-2 ED and 1-2 school records 3-20 months
//                             before it (in week 0)
//   linked_ed 7               death; 1-2 ED records 1-20 months before
//   linked_school 5           death; a school record 3-20 months before
//   linked_school_accented 3  the same, the school writing the names with accents (Léontrice
//                             Sébrillon) and the death report without (Leontrice Sebrillon)
//   variant_missed 2          the same, the school misspelling the forename (a letter dropped or
//                             changed), so exact tokens cannot link them
//   outside_lookback 2        death; an ED record 27-30 months before (outside 24 months)
//   death_only 8              death, nothing else
//   rotation 5                ED in week 1 and week 3, death in week 5
//   repeat_ed 9               2-3 ED records in distinct weeks 1..3, no death
// Background: one record per person; ED 200 in week 0 and 40 a week (about 5 % without an NHS
// number), school 100 in week 0 and 15 a delivered week, deaths 12 in week 0 (before the range)
// and one a week from week 1. `expected` is what exact-token linkage with a 24-month lookback over
// start .. end of week N-1 finds, worked out from the rows as written: for any seed, deaths
// 38 + N-1, linked {ed-attendances 12, school-exclusions 8, both 6, none 12 + N-1},
// repeat_contact 14, missed_by_variant 2, accent_linked 3.

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
