/*
 * transport_sock.c: the socket of an SMTP session, which libESMTP never
 * shows: finding it, TCP_NODELAY and TCP_CORK on it, connecting one
 * session at a time, and a timeout for connect().
 *
 * connect() has no timeout in libESMTP: a per-thread POSIX timer sends
 * this thread a signal (handler without SA_RESTART) after connect_ms,
 * which makes the blocking connect() fail with EINTR; SMTP_EV_CONNECT
 * disarms it (transport_sock_connected). The timer repeats every 20 ms, so
 * every address getaddrinfo returned is cut short too. SIGPIPE is blocked
 * during the session and a pending one discarded at its end, so a server
 * closing mid-DATA is an error, not the end of the process.
 *
 * Finding the socket and its options: see the comment above set_nodelay.
 */
#include "transport_sock.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static int watchdog_signal;
static _Thread_local volatile sig_atomic_t watchdog_fired;

static void watchdog_handler(int sig)
{
    (void)sig;
    watchdog_fired = 1;
}

void transport_sock_init_process(void)
{
    struct sigaction sa;

    /* No SA_RESTART: the point is to interrupt a blocking connect(). */
    watchdog_signal = SIGRTMIN + 3;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = watchdog_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(watchdog_signal, &sa, NULL);
}

int transport_sock_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
    return 0;
}

void transport_sock_init(struct transport_sock *k)
{
    memset(k, 0, sizeof *k);
    k->fd = -1;
}

/* ---- the connect watchdog ---- */

static void arm_watchdog(struct transport_sock *k, int connect_ms)
{
    struct sigevent sev;
    struct itimerspec its;

    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = watchdog_signal;
    sev._sigev_un._tid = gettid();
    if (timer_create(CLOCK_MONOTONIC, &sev, &k->timer) != 0) {
        log_warn("smtp: no connect timeout (timer_create: %s)", strerror(errno));
        return;
    }
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = connect_ms / 1000;
    its.it_value.tv_nsec = (long)(connect_ms % 1000) * 1000000L;
    /* repeat, so every address getaddrinfo returned is cut short too */
    its.it_interval.tv_nsec = 20 * 1000000L;
    if (timer_settime(k->timer, 0, &its, NULL) != 0) {
        timer_delete(k->timer);
        return;
    }
    k->timer_armed = 1;
}

static void disarm(struct transport_sock *k)
{
    struct itimerspec zero;
    if (!k->timer_armed)
        return;
    memset(&zero, 0, sizeof zero);
    timer_settime(k->timer, 0, &zero, NULL);
}

int transport_sock_timed_out(const struct transport_sock *k)
{
    (void)k;
    return watchdog_fired;
}

/* ---- finding the socket ---- */

/*
 * libESMTP writes a command, then the message in pieces, and the last small
 * piece waits under Nagle's algorithm for the ACK of the previous one,
 * which the server delays: 40 ms per message (90 msgs/s on loopback).
 * libESMTP never shows us its socket, so right after it connected we find
 * it: a TCP socket of this process whose peer port is the relay's, and set
 * TCP_NODELAY. Other sessions' sockets to the same relay may match too;
 * they are ours and want the same option.
 *
 * The same search tells this session's own socket apart, for TCP_CORK
 * during the message data (see transport_sock_cork()). Sessions connect one at a time
 * (conn_mu, held from just before smtp_start_session() until
 * SMTP_EV_CONNECT or the session's end) and every live session registers
 * the relay sockets it found in `owned` as (fd, local port, owner): the
 * one connected relay socket nobody registered is then the new one. A
 * stale entry (an fd closed and reused) has another local port. If there
 * is not exactly one such socket the session does without TCP_CORK and
 * registers all of them, so that they confuse no later session (they are
 * others' only if those connected without conn_mu). conn_mu is waited for
 * at most CONN_WAIT_MS: a relay that does not answer connect() must not
 * make the other workers' connects wait for its timeout in turn.
 */
#define OWNED_MAX    256
#define CONN_WAIT_MS 200
static pthread_mutex_t conn_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t owned_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int fd, lport;
    const void *owner;
} owned[OWNED_MAX];
static size_t nowned;

static int local_port(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;

    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    if (sa.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&sa)->sin_port);
    if (sa.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    return -1;
}

static int is_owned(int fd, int lport)
{
    for (size_t i = 0; i < nowned; i++)
        if (owned[i].fd == fd && owned[i].lport == lport)
            return 1;
    return 0;
}

static void set_nodelay(struct transport_sock *k, int relay_port)
{
    char path[64];
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found[16][2], nfound = 0, more = 0;

    if (!d)
        return;
    snprintf(path, sizeof path, "%d", dirfd(d));
    pthread_mutex_lock(&owned_mu);
    while ((e = readdir(d)) != NULL) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        int fd, type = 0, one = 1, port, lport;
        socklen_t tl = sizeof type;
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || strcmp(e->d_name, path) == 0)
            continue;
        fd = atoi(e->d_name);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM ||
            getpeername(fd, (struct sockaddr *)&sa, &len) != 0)
            continue;
        if (sa.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        else if (sa.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        else
            continue;
        if (port != relay_port)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        lport = local_port(fd);
        if (lport < 0 || is_owned(fd, lport))
            continue;
        if (nfound < 16) {
            found[nfound][0] = fd;
            found[nfound][1] = lport;
            nfound++;
        } else {
            more = 1;
        }
    }
    for (int i = 0; i < nfound && nowned < OWNED_MAX; i++) {
        owned[nowned].fd = found[i][0];
        owned[nowned].lport = found[i][1];
        owned[nowned].owner = k;
        nowned++;
    }
    if (nfound == 1 && !more && is_owned(found[0][0], found[0][1]))
        k->fd = found[0][0];
    pthread_mutex_unlock(&owned_mu);
    closedir(d);
}

/* Lets the next session connect (see set_nodelay). */
static void conn_release(struct transport_sock *k)
{
    if (k->conn_locked) {
        k->conn_locked = 0;
        pthread_mutex_unlock(&conn_mu);
    }
}

/* Waits (a while) for the other sessions' connects; see set_nodelay. */
static void conn_acquire(struct transport_sock *k)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += CONN_WAIT_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    k->conn_locked = pthread_mutex_timedlock(&conn_mu, &until) == 0;
}

/* Ends the session's claims on sockets (see set_nodelay). */
static void unregister_socket(struct transport_sock *k)
{
    conn_release(k);
    pthread_mutex_lock(&owned_mu);
    for (size_t i = 0; i < nowned;)
        if (owned[i].owner == k)
            owned[i] = owned[--nowned];
        else
            i++;
    pthread_mutex_unlock(&owned_mu);
    k->fd = -1;
}

/*
 * TCP_CORK (tcp(7)) on this session's socket while a message's data is
 * written: libESMTP writes it in 2 KB pieces (its buffer), and with
 * TCP_NODELAY each piece would leave as its own segment, each costing the
 * loopback (or the network) a round of transmit, receive and a wakeup of
 * the server. Corked, the kernel sends full segments; uncorking at the end
 * of the data (before the final "." is written, which then goes at once)
 * sends the rest.
 */
void transport_sock_cork(struct transport_sock *k, int on)
{
    if (k->fd < 0 || k->corked == on)
        return;
    if (setsockopt(k->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0)
        k->corked = on;
}

/* ---- a session's start and end ---- */

void transport_sock_begin(struct transport_sock *k, int connect_ms)
{
    sigset_t block, unblock;

    watchdog_fired = 0;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    sigemptyset(&unblock);
    sigaddset(&unblock, watchdog_signal);
    pthread_sigmask(SIG_BLOCK, &block, &k->old_mask);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    arm_watchdog(k, connect_ms);
    conn_acquire(k);
}

void transport_sock_connected(struct transport_sock *k, int port)
{
    disarm(k);
    set_nodelay(k, port);
    conn_release(k);
}

void transport_sock_end(struct transport_sock *k)
{
    unregister_socket(k);
    if (k->timer_armed) {
        disarm(k);
        timer_delete(k->timer);
        k->timer_armed = 0;
    }
    if (!sigismember(&k->old_mask, SIGPIPE)) {
        sigset_t pending, block;
        struct timespec zero = {0, 0};
        sigemptyset(&block);
        sigaddset(&block, SIGPIPE);
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE))
            sigtimedwait(&block, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &k->old_mask, NULL);
}
