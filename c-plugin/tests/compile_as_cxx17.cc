// Compiles the plugin source as C++17, as an ATS 10 source tree does (its ts.h is C++ only). Built by CMake with
// -Wall -Wextra -Wpedantic -Werror against the installed 9.2 headers: the source must stay in the C/C++ common subset.
#include "../atsreuse.c"
