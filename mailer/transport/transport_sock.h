/*
 * transport_sock.h: the socket of one SMTP session, which libESMTP keeps to
 * itself (transport_sock.c). For transport_smtp.c only.
 */
#ifndef MAILER_TRANSPORT_TRANSPORT_SOCK_H
#define MAILER_TRANSPORT_TRANSPORT_SOCK_H

#include <signal.h>
#include <time.h>

/* One session's view of its socket; lives in the session, on its thread. */
struct transport_sock {
    int fd;          /* the session's socket, -1 until found (or if not told apart) */
    int conn_locked; /* holds the connect lock */
    int corked;
    timer_t timer; /* the connect watchdog */
    int timer_armed;
    sigset_t old_mask; /* the thread's signal mask before transport_sock_begin */
};

/* Once per process, before any session: installs the watchdog's signal handler. */
void transport_sock_init_process(void);

/* 1 for 127.0.0.0/8, ::1 and "localhost". */
int transport_sock_is_loopback(const char *host);

/* A session's state before its start (no socket known, nothing held). */
void transport_sock_init(struct transport_sock *k);

/*
 * Right before smtp_start_session() on this thread: blocks SIGPIPE, arms
 * the connect watchdog (connect_ms) and waits (a while) for the other
 * sessions' connects. Pair with transport_sock_end.
 */
void transport_sock_begin(struct transport_sock *k, int connect_ms);

/* At SMTP_EV_CONNECT: disarms the watchdog, finds the new socket (relay
 * port `port`), sets TCP_NODELAY and lets the next session connect. */
void transport_sock_connected(struct transport_sock *k, int port);

/* 1 if the watchdog cut this thread's connect short since transport_sock_begin. */
int transport_sock_timed_out(const struct transport_sock *k);

/* TCP_CORK on (1) or off (0) on the session's socket, if it is known. */
void transport_sock_cork(struct transport_sock *k, int on);

/* After smtp_start_session() returned: forgets the socket, removes the
 * watchdog, discards a pending SIGPIPE and restores the signal mask. */
void transport_sock_end(struct transport_sock *k);

#endif
