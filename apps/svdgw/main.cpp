#include "apps/svdgw/cli.h"

int main(int argc, char** argv) { return svd::svdgw::cli_main(argc, argv); }
