// TEMPORARY stand-in for `resnet-edge serve` (VM_STANDIN=1 scripts/test-vm.sh), only to develop the VM harness
// before the real daemon exists: V4L2 mmap capture of /dev/video0, sd_notify READY/WATCHDOG, HTTP /latest /events
// /metrics /healthz, a results socket, SIGHUP reload of the model path, and the RESNET_EDGE_TEST_HANG_AFTER hook.
// It classifies nothing (the "label" is the mean luma bucket). Removed once the real daemon is merged.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char model[512], device[256] = "/dev/video0", sockpath[256] = "/run/resnet-edge/results.sock";
static const char *config;
static int port = 8089, camera_ok;
static unsigned long captured, classified;
static double cap_sum, inf_sum;
static char latest[1024] = "{}";
static volatile sig_atomic_t hup, term;

static double mono(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void notify(const char *msg) {
  const char *p = getenv("NOTIFY_SOCKET");
  if (!p) return;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strncpy(a.sun_path, p, sizeof a.sun_path - 1);
  if (a.sun_path[0] == '@') a.sun_path[0] = 0;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + strlen(p));
  close(fd);
}
static void logf_(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vfprintf(stderr, fmt, ap); va_end(ap); fputc('\n', stderr); }

static int conf_get(const char *key, char *out, size_t n) {
  FILE *f = fopen(config, "r"); char line[512]; int found = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f)) {
    char k[64], v[400];
    if (sscanf(line, " %63[a-z_] = \"%399[^\"]\"", k, v) == 2 && !strcmp(k, key)) { snprintf(out, n, "%s", v); found = 1; break; }
  }
  fclose(f); return found;
}
static int model_ok(const char *p) { struct stat st; return stat(p, &st) == 0 && st.st_size > 1000000; }

static void *http(void *arg) {
  (void)arg;
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (bind(s, (void *)&a, sizeof a) || listen(s, 16)) { logf_("http: bind: %s", strerror(errno)); return 0; }
  for (;;) {
    int c = accept(s, 0, 0); char req[1024] = {0}, body[4096]; int code = 200;
    if (c < 0) continue;
    read(c, req, sizeof req - 1);
    pthread_mutex_lock(&mu);
    if (!strncmp(req, "GET /latest", 11)) snprintf(body, sizeof body, "%s\n", latest);
    else if (!strncmp(req, "GET /healthz", 12)) { code = camera_ok ? 200 : 503; snprintf(body, sizeof body, camera_ok ? "ok\n" : "camera unavailable\n"); }
    else if (!strncmp(req, "GET /metrics", 12))
      snprintf(body, sizeof body,
               "resnet_edge_frames_captured_total %lu\nresnet_edge_frames_classified_total %lu\n"
               "resnet_edge_stage_seconds_sum{stage=\"capture\"} %f\nresnet_edge_stage_seconds_count{stage=\"capture\"} %lu\n"
               "resnet_edge_stage_seconds_sum{stage=\"inference\"} %f\nresnet_edge_stage_seconds_count{stage=\"inference\"} %lu\n"
               "resnet_edge_camera_up %d\n", captured, classified, cap_sum, captured, inf_sum, classified, camera_ok);
    else if (!strncmp(req, "GET /events", 11)) {
      pthread_mutex_unlock(&mu);
      dprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
      for (int i = 0; i < 3; i++) { pthread_mutex_lock(&mu); dprintf(c, "data: %s\n\n", latest); pthread_mutex_unlock(&mu); sleep(1); }
      close(c); continue;
    } else { code = 404; snprintf(body, sizeof body, "not found\n"); }
    pthread_mutex_unlock(&mu);
    dprintf(c, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", code, strlen(body), body);
    close(c);
  }
}
static void *results(void *arg) {
  (void)arg;
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strncpy(a.sun_path, sockpath, sizeof a.sun_path - 1);
  unlink(sockpath);
  if (bind(s, (void *)&a, sizeof a) || listen(s, 8)) { logf_("socket %s: %s", sockpath, strerror(errno)); return 0; }
  for (;;) {
    int c = accept(s, 0, 0);
    if (c < 0) continue;
    pthread_mutex_lock(&mu); dprintf(c, "%s\n", latest); pthread_mutex_unlock(&mu);
    close(c);
  }
}
static void on_sig(int s) { if (s == SIGHUP) hup = 1; else term = 1; }

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i++) if (!strcmp(argv[i], "--config")) config = argv[i + 1];
  if (!config) { fprintf(stderr, "usage: resnet-edge serve --config FILE\n"); return 2; }
  char buf[256];
  conf_get("device", device, sizeof device); conf_get("socket", sockpath, sizeof sockpath);
  if (conf_get("http_listen", buf, sizeof buf) && strchr(buf, ':')) port = atoi(strchr(buf, ':') + 1);
  if (!conf_get("path", model, sizeof model) || !model_ok(model)) { logf_("model %s: not a model", model); return 1; }
  logf_("stand-in: model %s, camera %s, http 127.0.0.1:%d", model, device, port);
  signal(SIGHUP, on_sig); signal(SIGTERM, on_sig); signal(SIGINT, on_sig); signal(SIGPIPE, SIG_IGN);
  pthread_t t; pthread_create(&t, 0, http, 0); pthread_create(&t, 0, results, 0);
  double hang_at = getenv("RESNET_EDGE_TEST_HANG_AFTER") ? mono() + atof(getenv("RESNET_EDGE_TEST_HANG_AFTER")) : 0;
  int fd = -1, ready = 0; void *bufs[4]; size_t lens[4]; double last_err = 0;
  while (!term) {
    if (hang_at && mono() > hang_at) { logf_("test hook: pipeline hangs now"); for (;;) pause(); }
    notify("WATCHDOG=1");
    if (hup) {
      hup = 0; char m[512] = "";
      notify("RELOADING=1");
      conf_get("path", m, sizeof m);
      if (model_ok(m)) { pthread_mutex_lock(&mu); snprintf(model, sizeof model, "%s", m); pthread_mutex_unlock(&mu); logf_("reload: model %s", m); }
      else logf_("reload: model %s: not a valid model, keeping %s", m, model);
      notify("READY=1");
    }
    if (fd < 0) {
      fd = open(device, O_RDWR | O_NONBLOCK | O_CLOEXEC);
      struct v4l2_format f = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
      f.fmt.pix.width = 640; f.fmt.pix.height = 480; f.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV; f.fmt.pix.field = V4L2_FIELD_NONE;
      struct v4l2_requestbuffers rb = {.count = 4, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
      int ok = fd >= 0 && ioctl(fd, VIDIOC_S_FMT, &f) == 0 && ioctl(fd, VIDIOC_REQBUFS, &rb) == 0 && rb.count == 4;
      for (int i = 0; ok && i < 4; i++) {
        struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP, .index = i};
        ok = ioctl(fd, VIDIOC_QUERYBUF, &b) == 0;
        if (ok) { lens[i] = b.length; bufs[i] = mmap(0, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset); ok = bufs[i] != MAP_FAILED; }
        if (ok) ok = ioctl(fd, VIDIOC_QBUF, &b) == 0;
      }
      enum v4l2_buf_type ty = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      if (ok) ok = ioctl(fd, VIDIOC_STREAMON, &ty) == 0;
      if (!ok) {
        if (mono() - last_err > 5) { logf_("camera %s: %s", device, strerror(errno)); last_err = mono(); }
        if (fd >= 0) close(fd);
        fd = -1; camera_ok = 0; usleep(300000); continue;
      }
      logf_("camera %s: streaming 640x480 YUYV", device);
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    double t0 = mono();
    int r = poll(&p, 1, 2000);
    struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
    if (r <= 0 || (p.revents & (POLLERR | POLLHUP)) || ioctl(fd, VIDIOC_DQBUF, &b) != 0) {
      if (r < 0 && errno == EINTR) continue;
      logf_("camera %s: lost (%s)", device, r == 0 ? "timeout" : strerror(errno));
      for (int i = 0; i < 4; i++) munmap(bufs[i], lens[i]);
      close(fd); fd = -1; camera_ok = 0; continue;
    }
    double t1 = mono();
    unsigned long sum = 0; unsigned char *px = bufs[b.index];
    for (size_t i = 0; i < b.bytesused; i += 2 * 64) sum += px[i];
    int label = (int)(sum * 10 / (b.bytesused / 128 * 256 + 1));
    double t2 = mono();
    ioctl(fd, VIDIOC_QBUF, &b);
    pthread_mutex_lock(&mu);
    camera_ok = 1; captured++; classified++; cap_sum += t1 - t0; inf_sum += t2 - t1;
    snprintf(latest, sizeof latest, "{\"frame\":%lu,\"label\":\"class%d\",\"model\":\"%s\"}", classified, label, model);
    pthread_mutex_unlock(&mu);
    if (!ready) { ready = 1; notify("READY=1\nSTATUS=classifying"); logf_("ready after the first classification"); }
  }
  notify("STOPPING=1");
  return 0;
}
