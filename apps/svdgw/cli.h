#pragma once
// The `svdgw` command line: check-config, process, keys. Exit codes follow what users expect:
// 0 success, 1 usage/config/I-O error, 2 extract refused (process).

namespace svd::svdgw {

int cli_main(int argc, char** argv);

}  // namespace svd::svdgw
