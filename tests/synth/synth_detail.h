#pragma once
// Internals of svd_synth shared by synth.cpp (the single-feed extracts) and scenario.cpp (the
// multi-partner scenario), so that both draw people, dates and rows the same way. Not for use
// outside tests/synth: nothing here is a stable interface.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace svd::synth::detail {

// ---------------------------------------------------------------------------------------------
// Randomness. Only std::mt19937_64 itself is specified bit for bit by the standard; every
// distribution is library-specific, so all mapping from engine output to values happens here.

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  std::uint64_t next() { return engine_(); }

  // Plain modulo: its bias (n / 2^64) is far below anything a test could notice, and it is the
  // same everywhere. n must be > 0.
  std::uint64_t uniform(std::uint64_t n) { return engine_() % n; }

  std::int64_t between(std::int64_t lo, std::int64_t hi) {  // both inclusive
    return lo + static_cast<std::int64_t>(uniform(static_cast<std::uint64_t>(hi - lo) + 1));
  }

  // For subscripts: the cast keeps -Wconversion quiet where size_t is 32 bits.
  std::size_t index(std::size_t n) { return static_cast<std::size_t>(uniform(n)); }

  bool percent(std::uint64_t p) { return uniform(100) < p; }
  bool per_mille(std::uint64_t p) { return uniform(1000) < p; }

  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[index(N)];
  }

  char pick_char(std::string_view set) { return set[index(set.size())]; }

  char digit(unsigned lowest = 0) {
    return static_cast<char>('0' + lowest + uniform(10 - lowest));
  }

 private:
  std::mt19937_64 engine_;
};

struct Weighted {
  std::string_view value;
  std::uint64_t weight;
};

template <std::size_t N>
std::string_view pick_weighted(Rng& rng, const std::array<Weighted, N>& items) {
  std::uint64_t total = 0;
  for (const Weighted& w : items) total += w.weight;
  std::uint64_t r = rng.uniform(total);
  for (const Weighted& w : items) {
    if (r < w.weight) return w.value;
    r -= w.weight;
  }
  return items[N - 1].value;  // unreachable: r < total
}

// ---------------------------------------------------------------------------------------------
// Calendar arithmetic on day numbers (days since 1970-01-01), proleptic Gregorian. Everything is
// signed 64-bit so that no intermediate needs a conversion.

struct Date {
  std::int64_t year;
  std::int64_t month;
  std::int64_t day;
};

constexpr std::int64_t kSecondsPerDay = 86400;

bool is_leap(std::int64_t y);
std::int64_t days_in_month(std::int64_t y, std::int64_t m);
std::int64_t days_from_civil(Date d);
Date civil_from_days(std::int64_t z);
std::int64_t random_day(Rng& rng, Date first, Date last);

// ---------------------------------------------------------------------------------------------
// Text. Hand-rolled digits so that no locale (or std::format availability) can change output.

void append_padded(std::string& s, std::uint64_t v, std::size_t width);
void append_number(std::string& s, std::int64_t v, std::size_t width = 0);
void append_iso_date(std::string& s, Date d);
void append_time(std::string& s, std::int64_t second_of_day);
void append_iso_datetime(std::string& s, Date d, std::int64_t second_of_day);
void append_uk_date(std::string& s, Date d, bool zero_padded);
void append_csv_cell(std::string& s, std::string_view cell);
void append_json_string(std::string& s, std::string_view v);
std::string to_windows_1252(std::string_view utf8);

// ---------------------------------------------------------------------------------------------
// Invented names. None is a common real name, and each has at least 5 letters (checked below),
// so a test can grep gateway output for one and a hit means a leak, not a coincidence.

inline constexpr std::array<std::string_view, 40> kSurnames{
    "Quillfeather", "Marrowby",    "Zentarro",    "Ovelstrand",  "Thrennick",  "Pellowind",
    "Vastergate",   "Brumblethorpe", "Okkerwyn",  "Dravenholt",  "Fenwhistle", "Gorrimond",
    "Hallowquist",  "Ixtenbury",   "Jorvellan",   "Kestrelby",   "Lunderquist", "Mirrowgale",
    "Nimblestrode", "Pascarrow",   "Quenderby",   "Rostavell",   "Sablethorn", "Tindervane",
    "Umberlith",    "Vellacourt",  "Wrenhallow",  "Yarrowdyne",  "Zephrondel", "Caldrenny",
    "Orsavelt",     "O'Marrowby",  "Brix-Hallow", "D'Anvecourt", "Sébrillon",  "Kröfeldt",
    "Muñevaro",     "Thërnwick",   "Valérosque",  "Fëodrane",
};

inline constexpr std::array<std::string_view, 40> kForenames{
    "Zorbeline", "Quintavia", "Marvello", "Oskarine",   "Brennwick", "Daventra",   "Elowynne",
    "Fenwicka",  "Galdrick",  "Halvessa", "Idrenne",    "Jorvane",   "Kaelisto",   "Lumorra",
    "Merrindel", "Nollaric",  "Orwenna",  "Pellisande", "Quorrin",   "Rastavel",   "Sorrelind",
    "Tavrenne",  "Ulvarick",  "Vesmerra", "Wendrovar",  "Xanthelle", "Yorvique",   "Zentrilla",
    "Arvandel",  "Brisolde",  "Zoëlwyn",  "Renévra",    "José-Lurio", "Léontrice", "Iñavella",
    "Jöskarin",  "Noëlvane",  "Mari-Quell", "Anvïsse",  "Célestrin",
};

constexpr std::size_t letter_count(std::string_view name) {
  std::size_t n = 0;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if ((u & 0xC0u) == 0x80u || c == '\'' || c == '-' || c == ' ') continue;  // UTF-8 trail bytes too
    ++n;
  }
  return n;
}

template <std::size_t N>
constexpr bool all_searchable(const std::array<std::string_view, N>& names) {
  for (const std::string_view name : names)
    if (letter_count(name) < 5) return false;
  return true;
}

static_assert(all_searchable(kSurnames) && all_searchable(kForenames),
              "every invented name needs at least 5 letters");

void append_name(std::string& s, Rng& rng, std::string_view name);

// ---------------------------------------------------------------------------------------------
// NHS numbers (999 test range) and postcodes.

using NhsDigits = std::array<char, 10>;

NhsDigits draw_nhs_number(Rng& rng);
void append_nhs_number(std::string& s, Rng& rng, const NhsDigits& d);

inline constexpr std::string_view kInwardLetters = "ABDEFGHJLNPQRSTUWXYZ";  // not C I K M O V

void append_postcode_text(std::string& s, Rng& rng, std::string_view canonical);

// ---------------------------------------------------------------------------------------------
// Valid rows of the generate() feeds, drawn exactly as generate() draws them, for a caller that
// then writes its own people and dates over the identity and date cells: the rest of the row
// (codes, free text, ids) stays the feed's own. school-exclusions cells are Windows-1252.

class RowMaker {
 public:
  virtual ~RowMaker() = default;
  virtual std::span<const std::string_view> columns() const = 0;
  // `index` numbers the rows the way generate() does (ids are derived from it), so distinct
  // indexes give distinct ids. `cells` is resized to the column count.
  virtual void row(Rng& rng, std::uint64_t index, std::vector<std::string>& cells) = 0;
};

// For "ed-assaults", "death-reports" or "school-exclusions"; draws the per-file choices from
// `rng` as generate() does. Throws std::invalid_argument for another feed.
std::unique_ptr<RowMaker> row_maker(std::string_view feed, Rng& rng);

}  // namespace svd::synth::detail
