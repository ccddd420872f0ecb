// libv4l2 (Debian libv4l-dev, pkg-config libv4l2) and the kernel's videodev2.h, for EdgeCapture.
//
// Swift cannot call two things here directly, so this header wraps them and nothing else:
// - v4l2_open and v4l2_ioctl are C variadic functions, which Swift imports as unavailable;
// - the VIDIOC_* request numbers are function-like macros (_IOWR(...)), which Swift does not import.
// Each ioctl gets one typed wrapper. The structs and plain constants of videodev2.h are imported as they are.
// Going through libv4l2 (rather than the raw syscalls) keeps its format emulation (libv4lconvert) and the
// libv4l-mplane plugin for multiplanar-only drivers available.
#ifndef CV4L2_SHIM_H
#define CV4L2_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/videodev2.h>
#include <libv4l2.h>

static inline int cv4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }
static inline int cv4l2_close(int fd) { return v4l2_close(fd); }

static inline int cv4l2_querycap(int fd, struct v4l2_capability *p) { return v4l2_ioctl(fd, VIDIOC_QUERYCAP, p); }
static inline int cv4l2_enum_fmt(int fd, struct v4l2_fmtdesc *p) { return v4l2_ioctl(fd, VIDIOC_ENUM_FMT, p); }
static inline int cv4l2_g_fmt(int fd, struct v4l2_format *p) { return v4l2_ioctl(fd, VIDIOC_G_FMT, p); }
static inline int cv4l2_s_fmt(int fd, struct v4l2_format *p) { return v4l2_ioctl(fd, VIDIOC_S_FMT, p); }
static inline int cv4l2_g_parm(int fd, struct v4l2_streamparm *p) { return v4l2_ioctl(fd, VIDIOC_G_PARM, p); }
static inline int cv4l2_s_parm(int fd, struct v4l2_streamparm *p) { return v4l2_ioctl(fd, VIDIOC_S_PARM, p); }
static inline int cv4l2_reqbufs(int fd, struct v4l2_requestbuffers *p) { return v4l2_ioctl(fd, VIDIOC_REQBUFS, p); }
static inline int cv4l2_querybuf(int fd, struct v4l2_buffer *p) { return v4l2_ioctl(fd, VIDIOC_QUERYBUF, p); }
static inline int cv4l2_qbuf(int fd, struct v4l2_buffer *p) { return v4l2_ioctl(fd, VIDIOC_QBUF, p); }
static inline int cv4l2_dqbuf(int fd, struct v4l2_buffer *p) { return v4l2_ioctl(fd, VIDIOC_DQBUF, p); }
static inline int cv4l2_streamon(int fd, int type) { return v4l2_ioctl(fd, VIDIOC_STREAMON, &type); }
static inline int cv4l2_streamoff(int fd, int type) { return v4l2_ioctl(fd, VIDIOC_STREAMOFF, &type); }
static inline int cv4l2_enum_framesizes(int fd, struct v4l2_frmsizeenum *p) { return v4l2_ioctl(fd, VIDIOC_ENUM_FRAMESIZES, p); }
static inline int cv4l2_enum_frameintervals(int fd, struct v4l2_frmivalenum *p) { return v4l2_ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, p); }

static inline void *cv4l2_mmap(size_t length, int fd, int64_t offset) {
    return v4l2_mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
}
static inline int cv4l2_munmap(void *start, size_t length) { return v4l2_munmap(start, length); }
static inline int cv4l2_map_failed(const void *p) { return p == MAP_FAILED; }

#endif
