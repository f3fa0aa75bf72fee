// The header compiles as C++17 (ATS 10 plugins are C++) and its functions link with C
// linkage: calling one through the C++ name must reach the library.
#include "atsreuse.h"

int
main()
{
  atsreuse_status s = atsreuse_node_rotate_now(nullptr);
  return s == ATSREUSE_STATUS_NULL_ARGUMENT && atsreuse_stats_size() == sizeof(atsreuse_stats) ? 0 : 1;
}
