#include "gateway/cli.h"

int main(int argc, char** argv) { return svd::gateway::cli_main(argc, argv); }
