#pragma once
// A page as a person sees it: rendered by headless Chromium (a screenshot and the DOM it built),
// for the tests of the printable reports. The screenshot is measured with python3-pil: its size,
// how many colours it has and what share of it is inked, so a blank or error page is told from a
// real one. Both programs come from deploy/install-deps.sh; a missing one is a failure, not a skip.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/key_files.h"
#include "tests/support/process.h"

namespace svd::test_support {

struct RenderedPage {
  int width = 0, height = 0, colours = 0;
  double ink = 0;         // the share of pixels darker than near-white
  std::string dom;        // the DOM after rendering
  std::string error;      // why it could not be rendered; empty when it was
};

// The text a reader sees: tags and the style sheet dropped, entities decoded, white space folded.
inline std::string page_text(const std::string& dom) {
  std::string text;
  for (std::size_t i = 0; i < dom.size();) {
    if (dom.compare(i, 6, "<style") == 0) {
      const std::size_t end = dom.find("</style>", i);
      i = end == std::string::npos ? dom.size() : end + 8;
      text += ' ';
    } else if (dom[i] == '<') {
      const std::size_t end = dom.find('>', i);
      i = end == std::string::npos ? dom.size() : end + 1;
      text += ' ';
    } else {
      text += dom[i++];
    }
  }
  for (const auto& [entity, c] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&nbsp;", " "}, {"&amp;", "&"}})
    for (std::size_t at = text.find(entity); at != std::string::npos; at = text.find(entity, at + c.size()))
      text.replace(at, entity.size(), c);
  std::string folded;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space) folded += c;
    else if (!folded.empty() && folded.back() != ' ') folded += ' ';
  }
  return folded;
}

// Renders `page` at 1280 x 2000 with a fresh profile in `work` (which it writes into).
inline RenderedPage render_in_chromium(const std::filesystem::path& page, const std::filesystem::path& work) {
  RenderedPage r;
  if (find_program("chromium").empty()) {
    r.error = "chromium is not installed (deploy/install-deps.sh installs it)";
    return r;
  }
  // Debian's interpreter, the one python3-pil installs for: a python3 earlier in PATH (pyenv) may
  // not have PIL.
  if (run({"/usr/bin/python3", "-c", "import PIL"}).exit_code != 0) {
    r.error = "python3-pil is not installed (deploy/install-deps.sh installs it)";
    return r;
  }
  const std::filesystem::path profile = work / "chromium-profile", png = work / "page.png";
  const std::vector<std::string> chromium{"chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                                          "--hide-scrollbars", "--no-first-run", "--disable-background-networking",
                                          "--window-size=1280,2000", "--user-data-dir=" + profile.string()};
  auto with = [&](std::initializer_list<std::string> more) {
    std::vector<std::string> argv = chromium;
    argv.insert(argv.end(), more);
    return argv;
  };
  const auto shot = run(with({"--screenshot=" + png.string(), "file://" + page.string()}));
  if (shot.exit_code != 0) {
    r.error = "chromium --screenshot: " + shot.out + shot.err;
    return r;
  }
  const auto dumped = run(with({"--dump-dom", "file://" + page.string()}));
  if (dumped.exit_code != 0) {
    r.error = "chromium --dump-dom: " + dumped.err;
    return r;
  }
  r.dom = dumped.out;
  write_file(work / "stats.py",
             "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]).convert('RGB')\n"
             "colours = im.getcolors(maxcolors=1 << 24)\n"
             "ink = sum(n for n, c in colours if min(c) < 240)\n"
             "print(im.size[0], im.size[1], len(colours), ink / (im.size[0] * im.size[1]))\n");
  const auto measured = run({"/usr/bin/python3", (work / "stats.py").string(), png.string()});
  if (measured.exit_code != 0 ||
      std::sscanf(measured.out.c_str(), "%d %d %d %lf", &r.width, &r.height, &r.colours, &r.ink) != 4)
    r.error = "measuring the screenshot: " + measured.out + measured.err;
  return r;
}

}  // namespace svd::test_support
