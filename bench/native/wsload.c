// wsload: open-loop heartbeats over many agent WebSockets, for B3 (bench/src/b3-ws-ladder.ts drives it).
//
// Why C: B3's reference is pgbench, a C client. The Node generator (`ws`, then a raw Node client) spent
// 27-32 µs of CPU per heartbeat sent and answered, as much as the manager it measured on the same two
// cores; this one spends what the kernel's loopback TCP costs plus a few µs.
//
// Protocol (lines on stdin → lines on stdout):
//   open HOST PORT PATH CREDFILE    one stream per credential (a line of CREDFILE each), each waits for
//                                   its first text frame (the manager's hello) → "opened N MS" or "error …"
//   step NO RATE DURATION_MS EVERY TIMEOUT_MS
//       sends RATE×DURATION/1000 heartbeats at RATE/s, message i on stream i mod N, id = "NO.i" left-padded
//       with '0' to 36 chars; latency from each message's scheduled send time to its answer. Every
//       EVERY-th message (none when EVERY is 0) is reported as it is answered:
//         "s I DEVICE OK SENT_EPOCH_MS ANSWERED_EPOCH_MS"
//       then "l LAT_US LAT_US …" (every answered message) and "r TOTAL OK ERRORS TIMEOUTS ELAPSED_MS"
//       (ELAPSED: first scheduled send to last answer).
//   quit
// Bounded: a step sends at most 10 000 000 messages and waits at most TIMEOUT_MS after its last send.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ID_LEN 36
#define MAX_MESSAGES 10000000L
#define IN_CAP 8192

typedef struct {
  long i;
  double scheduled_ms; /* monotonic */
  double sent_epoch_ms;
} inflight_t;

typedef struct {
  int fd;
  int open;
  char in[IN_CAP];
  size_t in_len;
  char *out; /* bytes not written yet (EAGAIN) */
  size_t out_len, out_cap;
  inflight_t *q; /* ring of messages sent and not answered, oldest first */
  size_t q_head, q_len, q_cap;
} stream_t;

static stream_t *streams;
static int n_streams;
static int ep = -1;

static double mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
static double epoch_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *what) {
  printf("error %s: %s\n", what, strerror(errno));
  fflush(stdout);
  exit(1);
}

/* ---- random mask keys, a fresh one per frame (RFC 6455 5.3) ---- */
static unsigned char mask_pool[65536];
static size_t mask_at = sizeof mask_pool;
static const unsigned char *mask_key(void) {
  if (mask_at + 4 > sizeof mask_pool) {
    size_t got = 0;
    while (got < sizeof mask_pool) {
      ssize_t r = getrandom(mask_pool + got, sizeof mask_pool - got, 0);
      if (r < 0) die("getrandom");
      got += (size_t)r;
    }
    mask_at = 0;
  }
  mask_at += 4;
  return mask_pool + mask_at - 4;
}

/* A final masked client frame of `len` payload bytes into `out` (≥ len + 14 bytes); returns its size. */
static size_t frame(unsigned char *out, int opcode, const char *payload, size_t len) {
  size_t at = 2;
  out[0] = (unsigned char)(0x80 | opcode);
  if (len < 126) out[1] = (unsigned char)(0x80 | len);
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
    at = 4;
  } else {
    out[1] = 0x80 | 127;
    for (int k = 0; k < 8; k++) out[2 + k] = (unsigned char)((uint64_t)len >> (56 - 8 * k));
    at = 10;
  }
  const unsigned char *key = mask_key();
  memcpy(out + at, key, 4);
  at += 4;
  for (size_t k = 0; k < len; k++) out[at + k] = (unsigned char)payload[k] ^ key[k & 3];
  return at + len;
}

static void out_append(stream_t *s, const unsigned char *b, size_t n) {
  if (s->out_len + n > s->out_cap) {
    s->out_cap = (s->out_len + n) * 2;
    s->out = realloc(s->out, s->out_cap);
    if (!s->out) die("realloc");
  }
  memcpy(s->out + s->out_len, b, n);
  s->out_len += n;
}

static void watch(stream_t *s, int want_out) {
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = s};
  epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
}

static void close_stream(stream_t *s) {
  if (!s->open) return;
  s->open = 0;
  epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
  close(s->fd);
}

/* Writes what is queued, then `b`; keeps what the socket does not take. */
static void send_bytes(stream_t *s, const unsigned char *b, size_t n) {
  if (!s->open) return;
  if (s->out_len == 0) {
    ssize_t w = write(s->fd, b, n);
    if (w == (ssize_t)n) return;
    if (w < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) return close_stream(s);
      w = 0;
    }
    out_append(s, b + w, n - (size_t)w);
    watch(s, 1);
    return;
  }
  out_append(s, b, n);
}

static void flush_out(stream_t *s) {
  while (s->out_len > 0) {
    ssize_t w = write(s->fd, s->out, s->out_len);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return close_stream(s);
    }
    memmove(s->out, s->out + w, s->out_len - (size_t)w);
    s->out_len -= (size_t)w;
  }
  watch(s, 0);
}

/* ---- opening ---- */
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int read_until_blank_line(int fd, char *buf, size_t cap, size_t *len) {
  *len = 0;
  while (*len + 1 < cap) {
    ssize_t r = read(fd, buf + *len, cap - 1 - *len);
    if (r <= 0) return -1;
    *len += (size_t)r;
    buf[*len] = 0;
    if (strstr(buf, "\r\n\r\n")) return 0;
  }
  return -1;
}

/* Connects, upgrades (blocking) and waits for the first text frame; returns 0 or -1 with `why` set. */
static int open_stream(stream_t *s, struct sockaddr_in *addr, const char *host, const char *path, const char *cred,
                       char *why, size_t why_cap) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)addr, sizeof *addr) < 0) {
    snprintf(why, why_cap, "connect: %s", strerror(errno));
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  unsigned char nonce[16];
  if (getrandom(nonce, sizeof nonce, 0) != sizeof nonce) die("getrandom");
  char key[25];
  for (int k = 0, o = 0; k < 16; k += 3) {
    uint32_t v = (uint32_t)nonce[k] << 16 | (k + 1 < 16 ? (uint32_t)nonce[k + 1] << 8 : 0) | (k + 2 < 16 ? nonce[k + 2] : 0);
    key[o++] = B64[(v >> 18) & 63];
    key[o++] = B64[(v >> 12) & 63];
    key[o++] = k + 1 < 16 ? B64[(v >> 6) & 63] : '=';
    key[o++] = k + 2 < 16 ? B64[v & 63] : '=';
  }
  key[24] = 0;
  char req[4096];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n"
                   "X-Api-Version: 1\r\n\r\n",
                   path, host, key, cred);
  if (n <= 0 || n >= (int)sizeof req || write(fd, req, (size_t)n) != n) {
    snprintf(why, why_cap, "sending the upgrade failed");
    close(fd);
    return -1;
  }
  size_t len;
  if (read_until_blank_line(fd, s->in, sizeof s->in, &len) < 0) {
    snprintf(why, why_cap, "no upgrade answer");
    close(fd);
    return -1;
  }
  int status = 0;
  sscanf(s->in, "HTTP/1.1 %d", &status);
  if (status != 101) {
    snprintf(why, why_cap, "refused: %d", status);
    close(fd);
    return -1;
  }
  /* the accept header is SHA-1 over the key; the server (ws) checks our frames, we trust a local 101 */
  char *end = strstr(s->in, "\r\n\r\n") + 4;
  size_t rest = len - (size_t)(end - s->in);
  memmove(s->in, end, rest);
  s->in_len = rest;
  /* the hello: an unmasked text frame */
  for (;;) {
    if (s->in_len >= 2) {
      size_t plen = s->in[1] & 0x7f, at = 2;
      if (plen == 126 && s->in_len >= 4) plen = (size_t)((unsigned char)s->in[2] << 8 | (unsigned char)s->in[3]), at = 4;
      if (plen < 126 || at == 4) {
        if (s->in_len >= at + plen) {
          memmove(s->in, s->in + at + plen, s->in_len - at - plen);
          s->in_len -= at + plen;
          break;
        }
      }
    }
    ssize_t r = read(fd, s->in + s->in_len, sizeof s->in - s->in_len);
    if (r <= 0) {
      snprintf(why, why_cap, "closed before its hello");
      close(fd);
      return -1;
    }
    s->in_len += (size_t)r;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  s->fd = fd;
  s->open = 1;
  s->q_cap = 64;
  s->q = calloc(s->q_cap, sizeof *s->q);
  if (!s->q) die("calloc");
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  return 0;
}

static void cmd_open(char *host, int port, char *path, char *credfile) {
  double t0 = mono_ms();
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
  if (getaddrinfo(host, NULL, &hints, &ai) != 0) {
    printf("error cannot resolve %s\n", host);
    return;
  }
  struct sockaddr_in addr = *(struct sockaddr_in *)ai->ai_addr;
  freeaddrinfo(ai);
  addr.sin_port = htons((uint16_t)port);
  FILE *f = fopen(credfile, "r");
  if (!f) die("credentials file");
  char line[1024];
  char why[256];
  int cap = 0;
  while (fgets(line, sizeof line, f)) cap++;
  rewind(f);
  streams = calloc((size_t)cap + 1, sizeof *streams); /* never moved: epoll holds pointers into it */
  if (!streams) die("calloc");
  n_streams = 0;
  while (n_streams < cap && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) continue;
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s:%d", host, port);
    if (open_stream(&streams[n_streams], &addr, hostport, path, line, why, sizeof why) < 0) {
      printf("error stream %d %s\n", n_streams, why);
      fclose(f);
      return;
    }
    n_streams++;
  }
  fclose(f);
  printf("opened %d %.1f\n", n_streams, mono_ms() - t0);
}

/* ---- a step ---- */
static long st_ok, st_errors, st_answered, st_every;
static double st_last_done;
static uint32_t *lat_us;
static long lat_n;

static void q_push(stream_t *s, inflight_t m) {
  if (s->q_len == s->q_cap) {
    inflight_t *nq = calloc(s->q_cap * 2, sizeof *nq);
    if (!nq) die("calloc");
    for (size_t k = 0; k < s->q_len; k++) nq[k] = s->q[(s->q_head + k) % s->q_cap];
    free(s->q);
    s->q = nq;
    s->q_head = 0;
    s->q_cap *= 2;
  }
  s->q[(s->q_head + s->q_len) % s->q_cap] = m;
  s->q_len++;
}

static void make_id(char *out, long step, long i) {
  char tmp[64];
  int n = snprintf(tmp, sizeof tmp, "%ld.%ld", step, i);
  int pad = ID_LEN - n;
  if (pad < 0) pad = 0;
  memset(out, '0', (size_t)pad);
  memcpy(out + pad, tmp, (size_t)n);
  out[pad + n] = 0;
}

static long cur_step;

/* One text frame from the manager: an answer to the oldest message in flight on this stream, or not ours. */
static void on_text(stream_t *s, int device, const char *p, size_t len) {
  if (s->q_len == 0) return; /* a late answer of an earlier step */
  inflight_t *head = &s->q[s->q_head];
  char want[ID_LEN + 1];
  make_id(want, cur_step, head->i);
  const char *id = memmem(p, len, "\"id\":\"", 6);
  if (!id || (size_t)(p + len - (id + 6)) < ID_LEN + 1 || memcmp(id + 6, want, ID_LEN) != 0 || id[6 + ID_LEN] != '"')
    return;
  int ok = memmem(p, len, "\"type\":\"heartbeat_ack\"", 22) != NULL;
  double now = mono_ms();
  s->q_head = (s->q_head + 1) % s->q_cap;
  s->q_len--;
  st_answered++;
  if (ok) st_ok++;
  else st_errors++;
  if (now > st_last_done) st_last_done = now;
  double lat = (now - head->scheduled_ms) * 1000.0;
  lat_us[lat_n++] = lat < 0 ? 0 : lat > 4e9 ? 4000000000u : (uint32_t)lat;
  if (st_every > 0 && head->i % st_every == 0) { /* at once: the caller starts polling for it now (stdout is a pipe) */
    printf("s %ld %d %d %.3f %.3f\n", head->i, device, ok, head->sent_epoch_ms, epoch_ms());
    fflush(stdout);
  }
}

static void on_readable(stream_t *s) {
  int device = (int)(s - streams);
  { /* one read per wake-up: epoll is level-triggered, so what is left wakes it again */
    if (s->in_len == sizeof s->in) return close_stream(s); /* a frame larger than we read: not the manager's */
    ssize_t r = read(s->fd, s->in + s->in_len, sizeof s->in - s->in_len);
    if (r == 0) return close_stream(s);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return close_stream(s);
    }
    s->in_len += (size_t)r;
    size_t at = 0;
    while (s->in_len - at >= 2) {
      unsigned char b0 = (unsigned char)s->in[at], b1 = (unsigned char)s->in[at + 1];
      size_t plen = b1 & 0x7f, hl = 2;
      if (plen == 126) {
        if (s->in_len - at < 4) break;
        plen = (size_t)((unsigned char)s->in[at + 2] << 8 | (unsigned char)s->in[at + 3]);
        hl = 4;
      } else if (plen == 127) return close_stream(s); /* the manager's frames are small */
      if (s->in_len - at < hl + plen) break;
      const char *payload = s->in + at + hl;
      int opcode = b0 & 0x0f;
      if (opcode == 0x1) on_text(s, device, payload, plen);
      else if (opcode == 0x9) {
        unsigned char pong[140];
        size_t n = frame(pong, 0xa, payload, plen > 125 ? 125 : plen);
        send_bytes(s, pong, n);
      } else if (opcode == 0x8) return close_stream(s);
      at += hl + plen;
    }
    memmove(s->in, s->in + at, s->in_len - at);
    s->in_len -= at;
  }
}

/* Handles what is ready, waiting up to `timeout_ms` for the first event; returns the number of events. */
static int poll_once(int timeout_ms) {
  struct epoll_event evs[256];
  int n = epoll_wait(ep, evs, 256, timeout_ms);
  for (int k = 0; k < n; k++) {
    stream_t *s = evs[k].data.ptr;
    if (!s->open) continue;
    if (evs[k].events & EPOLLOUT) flush_out(s);
    if (s->open && (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(s);
  }
  return n;
}

static void cmd_step(long step, double rate, double duration_ms, long every, double timeout_ms) {
  long total = (long)(rate * duration_ms / 1000.0 + 0.5);
  if (total < 1) total = 1;
  if (total > MAX_MESSAGES) total = MAX_MESSAGES;
  if (every < 0) every = 0; /* 0: no samples */
  cur_step = step;
  st_ok = st_errors = st_answered = 0;
  st_every = every;
  lat_n = 0;
  free(lat_us);
  lat_us = malloc((size_t)total * sizeof *lat_us);
  if (!lat_us) die("malloc");
  double interval = 1000.0 / rate;
  double t0 = mono_ms();
  st_last_done = t0;
  char id[ID_LEN + 1];
  char body[256];
  unsigned char buf[300];
  long i = 0;
  while (i < total) {
    double now = mono_ms();
    while (i < total && t0 + (double)i * interval <= now) {
      stream_t *s = &streams[i % n_streams];
      make_id(id, step, i);
      int blen = snprintf(body, sizeof body,
                          "{\"type\":\"heartbeat\",\"id\":\"%s\",\"agent_state\":\"enrolled\",\"config_version\":1,"
                          "\"spool_backlog\":0}",
                          id);
      inflight_t m = {.i = i, .scheduled_ms = t0 + (double)i * interval, .sent_epoch_ms = 0};
      if (every > 0 && i % every == 0) m.sent_epoch_ms = epoch_ms();
      if (s->open) {
        q_push(s, m);
        send_bytes(s, buf, frame(buf, 0x1, body, (size_t)blen));
      }
      i++;
    }
    /* Take every answer that is ready without blocking, then sleep a millisecond: one wake-up per tick
       instead of one per answer (each would be a context switch here and a wake-up in the sender's
       kernel path). A late wake-up is charged to latency through the schedule; answers are stamped when
       read, so up to a tick late. */
    while (poll_once(0) == 256) {
    }
    struct timespec tick = {0, 1000000};
    nanosleep(&tick, NULL);
  }
  double deadline = mono_ms() + timeout_ms;
  while (st_answered < total && mono_ms() < deadline) {
    int open = 0;
    for (int d = 0; d < n_streams && !open; d++) open = streams[d].open && streams[d].q_len > 0;
    if (!open) break;
    poll_once(10);
  }
  long timeouts = total - st_answered;
  fputs("l", stdout);
  for (long k = 0; k < lat_n; k++) printf(" %u", lat_us[k]);
  fputs("\n", stdout);
  printf("r %ld %ld %ld %ld %.3f\n", total, st_ok, st_errors, timeouts, st_last_done - t0);
  for (int d = 0; d < n_streams; d++) streams[d].q_len = 0;
}

int main(void) {
  ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    char host[256], path[1024], file[1024];
    int port;
    long step, every;
    double rate, dur, timeout;
    if (sscanf(line, "open %255s %d %1023s %1023s", host, &port, path, file) == 4) cmd_open(host, port, path, file);
    else if (sscanf(line, "step %ld %lf %lf %ld %lf", &step, &rate, &dur, &every, &timeout) == 5 && rate > 0)
      cmd_step(step, rate, dur, every, timeout);
    else if (strncmp(line, "quit", 4) == 0) break;
    else printf("error unknown command\n");
    fflush(stdout);
  }
  for (int d = 0; d < n_streams; d++) close_stream(&streams[d]);
  return 0;
}
