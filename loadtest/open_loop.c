/* The benchmark's open loop in C: prebuilt requests sent on a fixed schedule, latency from the scheduled moment.
 *
 *   open_loop HOST PORT RATE SECONDS ANSWER_TIMEOUT REQUEST_FILE OUT_FILE
 *
 * REQUEST_FILE holds records "<kiosk> <scans> <batch 0|1> <length>\n" followed by <length> bytes of HTTP/1.1
 * request, in send order (loadtest/c_open_loop.py writes it). One keep-alive connection per kiosk. Request i
 * is due when the scans before it, at RATE scans a second, have had their time; a busy connection pipelines,
 * so queueing anywhere shows as latency instead of a lower send rate (wrk measures from the moment it sent,
 * which hides that). Sending stops after SECONDS or when the requests run out; then it waits at most
 * ANSWER_TIMEOUT seconds for the last answers. OUT_FILE gets one line per answer or loss
 * ("<s|b> <status> <latency ms> <send lag ms> <scans>", status 0: lost) and stdout a one-line summary.
 * Loopback only: HOST must be a numeric IPv4 address.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct { double due; double lag; int scans; int batch; } pending_t;

typedef struct {
    int fd;
    char *out; size_t out_len, out_cap, out_sent;
    char *in; size_t in_len, in_cap;
    pending_t *q; size_t q_head, q_len, q_cap;
    int want_out, dead;
} conn_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *grow(void *p, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return p;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) cap2 *= 2;
    p = realloc(p, cap2 * item);
    if (!p) { perror("realloc"); exit(2); }
    *cap = cap2;
    return p;
}

static FILE *out_file;
static long answered_requests, answered_scans, failed_scans, lost_scans, status_counts[600];
static double start_t, last_answer_t;

static void record(const pending_t *p, int status, double now) {
    fprintf(out_file, "%c %d %.3f %.3f %d\n", p->batch ? 'b' : 's', status, (now - p->due) * 1000, p->lag, p->scans);
}

static void lose_all(conn_t *c, double now) {
    while (c->q_len) {
        pending_t *p = &c->q[c->q_head];
        record(p, 0, now);
        failed_scans += p->scans;
        lost_scans += p->scans;
        c->q_head++; c->q_len--;
    }
}

static void kill_conn(int ep, conn_t *c, double now) {
    if (c->dead) return;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->dead = 1;
    lose_all(c, now);
}

static void set_out_interest(int ep, conn_t *c, int want) {
    if (c->want_out == want || c->dead) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

static void flush(int ep, conn_t *c, double now) {
    while (c->out_sent < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_sent, c->out_len - c->out_sent);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) { set_out_interest(ep, c, 1); return; }
            kill_conn(ep, c, now);
            return;
        }
        c->out_sent += (size_t)n;
    }
    c->out_len = c->out_sent = 0;
    set_out_interest(ep, c, 0);
}

static long content_length(const char *head, size_t len) {
    static const char name[] = "content-length:";
    for (size_t i = 0; i + sizeof name - 1 <= len; i++) {
        if ((i == 0 || head[i - 1] == '\n') && strncasecmp(head + i, name, sizeof name - 1) == 0)
            return strtol(head + i + sizeof name - 1, NULL, 10);
    }
    return 0;
}

static void on_readable(int ep, conn_t *c, double now) {
    int closed = 0;  /* answers that came before the close still count */
    for (;;) {
        c->in = grow(c->in, &c->in_cap, c->in_len + 65536, 1);
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n == 0) { closed = 1; break; }
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) closed = 1;
            break;
        }
        c->in_len += (size_t)n;
    }
    size_t pos = 0;
    while (c->in_len - pos >= 12) {
        char *head = c->in + pos;
        char *end = memmem(head, c->in_len - pos, "\r\n\r\n", 4);
        if (!end) break;
        size_t head_len = (size_t)(end - head);
        size_t total = head_len + 4 + (size_t)content_length(head, head_len);
        if (c->in_len - pos < total) break;
        int status = atoi(head + 9);
        pos += total;
        if (!c->q_len) { fprintf(stderr, "an answer nobody asked for\n"); exit(2); }
        pending_t *p = &c->q[c->q_head];
        c->q_head++; c->q_len--;
        record(p, status, now);
        answered_requests++;
        last_answer_t = now;
        if (status >= 0 && status < 600) status_counts[status]++;
        if (status == 200) answered_scans += p->scans; else failed_scans += p->scans;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    if (!c->q_len) c->q_head = 0;
    if (closed) kill_conn(ep, c, now);
}

int main(int argc, char **argv) {
    if (argc != 8) { fprintf(stderr, "usage: open_loop HOST PORT RATE SECONDS ANSWER_TIMEOUT REQUESTS OUT\n"); return 2; }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    double rate = atof(argv[3]), seconds = atof(argv[4]), answer_timeout = atof(argv[5]);
    FILE *f = fopen(argv[6], "rb");
    if (!f) { perror(argv[6]); return 2; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) { perror("read"); return 2; }
    fclose(f);
    out_file = fopen(argv[7], "w");
    if (!out_file) { perror(argv[7]); return 2; }

    size_t n = 0, cap = 0, *off = NULL, *len = NULL, cap_len = 0;
    int *kiosk = NULL, *scans = NULL, *batch = NULL, kiosks = 0;
    size_t cap_k = 0, cap_s = 0, cap_b = 0;
    data[size] = '\0';
    for (long pos = 0; pos < size;) {
        /* strtol, not sscanf: glibc's sscanf measures the whole rest of the buffer on every call, which made
           reading 240,000 requests quadratic (minutes of CPU before the first send). */
        long fields[4]; char *p = data + pos, *e;
        for (int f = 0; f < 4; f++) {
            fields[f] = strtol(p, &e, 10);
            if (e == p) { fprintf(stderr, "bad record\n"); return 2; }
            p = e;
        }
        if (*p != '\n') { fprintf(stderr, "bad record\n"); return 2; }
        int k = (int)fields[0], s = (int)fields[1], b = (int)fields[2]; long l = fields[3];
        int used = (int)(p + 1 - (data + pos));
        off = grow(off, &cap, n + 1, sizeof *off);
        len = grow(len, &cap_len, n + 1, sizeof *len);
        kiosk = grow(kiosk, &cap_k, n + 1, sizeof *kiosk);
        scans = grow(scans, &cap_s, n + 1, sizeof *scans);
        batch = grow(batch, &cap_b, n + 1, sizeof *batch);
        off[n] = (size_t)(pos + used); len[n] = (size_t)l; kiosk[n] = k; scans[n] = s; batch[n] = b;
        if (k + 1 > kiosks) kiosks = k + 1;
        pos += used + l;
        n++;
    }

    int ep = epoll_create1(0);
    conn_t *conns = calloc((size_t)kiosks, sizeof *conns);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "HOST must be numeric IPv4\n"); return 2; }
    for (int k = 0; k < kiosks; k++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); return 2; }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        conns[k].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[k]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }

    long sent_requests = 0, sent_scans = 0, in_flight;
    double slot = 0, t = now_s();
    start_t = t + 0.02;
    last_answer_t = start_t;
    size_t i = 0;
    double stop_sending = start_t + seconds, give_up = 0;
    struct epoll_event events[256];
    for (;;) {
        t = now_s();
        while (i < n && t < stop_sending && start_t + slot / rate <= t) {
            double due = start_t + slot / rate;
            conn_t *c = &conns[kiosk[i]];
            if (c->dead) {
                pending_t lost = {due, (t - due) * 1000, scans[i], batch[i]};
                record(&lost, 0, t);
                failed_scans += scans[i]; lost_scans += scans[i];
            } else {
                c->out = grow(c->out, &c->out_cap, c->out_len + len[i], 1);
                memcpy(c->out + c->out_len, data + off[i], len[i]);
                c->out_len += len[i];
                c->q = grow(c->q, &c->q_cap, c->q_head + c->q_len + 1, sizeof *c->q);
                c->q[c->q_head + c->q_len++] = (pending_t){due, (t - due) * 1000, scans[i], batch[i]};
            }
            sent_requests++; sent_scans += scans[i];
            slot += scans[i];
            i++;
        }
        for (int k = 0; k < kiosks; k++)
            if (!conns[k].dead && conns[k].out_len > conns[k].out_sent && !conns[k].want_out) flush(ep, &conns[k], t);
        in_flight = 0;
        for (int k = 0; k < kiosks; k++) in_flight += (long)conns[k].q_len;
        int sending = i < n && t < stop_sending;
        if (!sending) {
            if (!in_flight) break;
            if (give_up == 0) give_up = t + answer_timeout;
            if (t >= give_up) break;
        }
        double wait = sending ? start_t + slot / rate - t : give_up - t;
        int timeout_ms = wait <= 0 ? 0 : (int)(wait * 1000) + (wait * 1000 > (int)(wait * 1000));
        if (sending && timeout_ms > 5) timeout_ms = 5;
        int got = epoll_wait(ep, events, 256, timeout_ms);
        t = now_s();
        for (int e = 0; e < got; e++) {
            conn_t *c = events[e].data.ptr;
            if (c->dead) continue;
            if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(ep, c, t);
            if (!c->dead && (events[e].events & EPOLLOUT)) flush(ep, c, t);
        }
    }
    t = now_s();
    for (int k = 0; k < kiosks; k++) kill_conn(ep, &conns[k], t);  /* what is still unanswered is lost */
    fclose(out_file);
    printf("OPEN-JSON {\"sent_requests\": %ld, \"sent_scans\": %ld, \"answered_requests\": %ld, \"answered_scans\": %ld,"
           " \"failed_scans\": %ld, \"lost_scans\": %ld, \"last_answer_s\": %.6f, \"send_seconds\": %.6f, \"statuses\": {",
           sent_requests, sent_scans, answered_requests, answered_scans, failed_scans, lost_scans,
           last_answer_t - start_t, (t < stop_sending ? t : stop_sending) - start_t);
    int first = 1;
    for (int s = 0; s < 600; s++)
        if (status_counts[s]) { printf("%s\"%d\": %ld", first ? "" : ", ", s, status_counts[s]); first = 0; }
    printf("}}\n");
    return 0;
}
