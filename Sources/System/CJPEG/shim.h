// libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev, pkg-config libturbojpeg).
// EdgeImaging uses it instead of the classic libjpeg API because libjpeg reports errors by longjmp-ing
// out of error_exit, which Swift frames cannot survive; TurboJPEG catches that inside the library and
// returns -1 with a message (tjGetErrorStr2), and with TJFLAG_STOPONWARNING it does the same for warnings.
#include <stddef.h>
#include <turbojpeg.h>
