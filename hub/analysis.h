#pragma once
// What `svdhub report` finds in the stored records of a range of days, beyond who shared
// (docs/analysts.md, "The force's report"): linked series (deaths and who saw the person before),
// repeat contact in the violence feeds, and an area profile. Counts only: the tables here are
// raw and go through suppress() (hub/suppression.h) before anyone sees them; the one exception is
// the person-level file, which is personal data and written only when asked for.
//
// A person is everyone whose records share a token: a record with an NHS-number token and a
// person token joins every record with either, across feeds and partners, and across linkage-key
// rotations because the records are read from each feed's linked view. Linkage is exact: a name
// or date of birth recorded differently gives a different person token, and without a shared NHS
// number that person is not linked. Tokens are compared by a 64-bit hash of each: two different
// people meet by chance with a probability of about n^2 / 2^65 for n tokens, 1 in 10 million for
// two million tokens.
//
// Dates are those of each feed's event-date output ([report] feed.<id>.event_date), at the
// resolution the feed shares: a week counts from its Monday, a month from its first day, a year
// from 1 January; date-times by their UTC day.
//
// Memory: about 70 bytes per record dated in the window (the range, and the lookback before it);
// the person-level rows are never held, only handed over.
// Thread-safety: none; one call at a time per store.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/errc.h"
#include "config/hub_config.h"
#include "hub/store.h"

namespace svd::hub {

// Time from a person's first record at another agency (within the lookback) to the death.
inline constexpr const char* kBeforeDeathBands[] = {"under 3 months", "3 to 6 months", "6 to 12 months",
                                                    "12 months or more", "no earlier record"};
inline constexpr std::size_t kBeforeDeathBandCount = 5;
// Repeat contact: records per person in the violence feeds.
inline constexpr const char* kContactBands[] = {"2 records", "3 records", "4 records", "5 or more"};
inline constexpr std::size_t kContactBandCount = 4;

// A table of raw counts with its labels, before suppression.
struct CountTable {
  std::vector<std::string> rows, columns;
  std::vector<std::vector<std::uint64_t>> cells;  // rows x columns
};

struct LinkedSeries {
  std::vector<std::string> agencies;  // the other feeds with dated records, in config order
  std::uint64_t deaths = 0;           // persons with a death in the range
  // Rows: each combination of agencies that saw someone before their death (labels join the
  // feed ids with " + "), then "no other agency"; columns: kBeforeDeathBands.
  CountTable by_combination;
};

struct RepeatContact {
  // Rows: kContactBands; columns: "violence feeds only", "also in another feed" (a record in any
  // other feed, at any time in the window).
  CountTable persons;
};

struct AreaProfile {
  std::string feed;
  CountTable records;  // rows: postcode districts; columns: months (YYYY-MM) of the range
};

// One row of the person-level file: a record of a person the report found. Tokens as stored
// (the newest under each kind); `event` the feed's generalised date as stored, a date-time cut to
// its day.
struct PersonRecord {
  std::string person;   // "P0001": numbered within this report only
  std::string section;  // "linked_series" or "repeat_contact"
  std::string role;     // "death", "earlier record" or "contact"
  std::string feed, partner, event, area, nhs_number_token, person_token;
};

struct Analysis {
  std::optional<LinkedSeries> linked;     // when [report] death_feed is set
  std::optional<RepeatContact> repeat;    // when [report] violence_feeds is set
  std::vector<AreaProfile> areas;         // each feed with an area and an event date
  std::uint64_t records_read = 0, records_undated = 0;
  std::uint64_t person_records = 0;       // handed to `person_record`
};

// The records of the UTC days [from_day, to_day] (days since 1970-01-01) and, for the linked
// series, the lookback before them. With `person_record`, the store is read a second time and
// each record of each person found is handed to it, feed by feed in config order, then in the
// store's order (the numbers P0001... are the same on both backends; the order of the rows need
// not be). Errors: those of Store::scan_linked.
result<Analysis> analyse(Store& store, const config::HubReceiverConfig& config, std::int64_t from_day,
                         std::int64_t to_day, const std::function<void(const PersonRecord&)>& person_record = {});

// The day a stored event-date value starts on: "2027-03-05", "2027-03-05T10:00:00+01:00" (its UTC
// day), "2027-W09" (its Monday), "2027-03" (the 1st), "2027" (1 January). Nothing for anything else.
std::optional<std::int64_t> event_day(std::string_view value);

// "AB12 3" (a sector) -> "AB12"; a district unchanged.
std::string_view district_of(std::string_view area);

// The day `months` calendar months before `day` (the same day of the month, or the month's last).
std::int64_t months_before(std::int64_t day, int months);

}  // namespace svd::hub
