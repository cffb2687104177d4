// The unit that carries the tests' precompiled header (tests/CMakeLists.txt); it has no test.
