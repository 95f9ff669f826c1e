/* chat.c - the chat handler: a line-based multi-user chat with rooms,
 * nicks and history.  Each room is a group (netsrv_group_*) with the
 * DISCONNECT policy, so a client that stops reading is dropped and never
 * holds the others up; everything a client is sent, its own replies
 * included, goes through its group queue, so lines never interleave.
 * One handle call per line (NETSRV_AGAIN): an idle client waits with no
 * coroutine stack in async mode.  Lines are parsed by chat_proto.c. */
#include "config.h"
#include <netsrv.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Room for one formatted line: a nick, a separator, a whole line. */
#define OUT_MAX (NETSRV_CHAT_LINE_MAX + NETSRV_CHAT_NAME_MAX + 64)

typedef struct chat_room {
    struct chat_room *next;
    char name[NETSRV_CHAT_NAME_MAX + 1];
    netsrv_group *g;
    unsigned members;
    char **hist;            /* the last lines said, a ring of c->history */
    unsigned hfirst, hcount;
} chat_room;

typedef struct chat_user {   /* a request's state */
    struct chat_user *prev, *next;
    netsrv_request *req;
    chat_room *room;
    char nick[NETSRV_CHAT_NAME_MAX + 1];
    char why[64];           /* the reason a /quit gave, for the notice */
    int in;                 /* set up: in the user list and a room */
    int started;            /* handle ran once */
} chat_user;

struct netsrv_chat {
    pthread_mutex_t lock;   /* rooms, users, nicks, histories */
    unsigned history;
    size_t queue;
    unsigned long next_guest;
    unsigned nrooms;
    chat_room *rooms;       /* the lobby first, always there */
    chat_user *users;
};

static void room_free(chat_room *r, unsigned history)
{
    for (unsigned i = 0; r->hist && i < history; i++)
        free(r->hist[i]);
    free(r->hist);
    netsrv_group_free(r->g);
    free(r);
}

static chat_room *room_new(netsrv_chat *c, const char *name)
{
    chat_room *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->name, sizeof r->name, "%s", name);
    if (netsrv_group_new(&r->g, c->queue, NETSRV_GROUP_DISCONNECT) < 0 ||
        (c->history && !(r->hist = calloc(c->history, sizeof *r->hist)))) {
        room_free(r, c->history);
        return NULL;
    }
    return r;
}

int netsrv_chat_new(netsrv_chat **out, unsigned history, size_t queue_bytes)
{
    *out = NULL;
    if (history > 10000)
        return -EINVAL;
    netsrv_chat *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    c->history = history;
    c->queue = queue_bytes ? queue_bytes : 256 * 1024;
    c->next_guest = 1;
    if (!(c->rooms = room_new(c, "lobby"))) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return -ENOMEM;
    }
    c->nrooms = 1;
    *out = c;
    return 0;
}

void netsrv_chat_free(netsrv_chat *c)
{
    if (!c)
        return;
    while (c->rooms) {
        chat_room *r = c->rooms;
        c->rooms = r->next;
        room_free(r, c->history);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static netsrv_chat *default_chat;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static void default_make(void)
{
    netsrv_chat_new(&default_chat, 20, 0);
}

static netsrv_chat *chat_of(netsrv_request *req)
{
    netsrv_chat *c = netsrv_request_ctx(req);
    if (c)
        return c;
    pthread_once(&default_once, default_make);
    return default_chat;
}

/* ---- sending, under c->lock ---- */

static int vformat(char *buf, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, OUT_MAX, fmt, ap);
    if (n < 0)
        return 0;
    return n < OUT_MAX ? n : OUT_MAX - 1;
}

/* A line to everyone in the room but from (NULL: all). */
static void room_say(chat_room *r, netsrv_request *from, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void room_say(chat_room *r, netsrv_request *from, const char *fmt, ...)
{
    char buf[OUT_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf, fmt, ap);
    va_end(ap);
    netsrv_group_send(r->g, from, buf, (size_t)n);
}

/* A line to the user alone, in order with what the room sends it. */
static void tell(chat_user *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tell(chat_user *u, const char *fmt, ...)
{
    char buf[OUT_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf, fmt, ap);
    va_end(ap);
    netsrv_group_send_to(u->room->g, u->req, buf, (size_t)n);
}

/* Appends a line said in the room to its history. */
static void remember(netsrv_chat *c, chat_room *r, const char *line, size_t len)
{
    if (!c->history)
        return;
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, line, len + 1);
    unsigned at = (r->hfirst + r->hcount) % c->history;
    if (r->hcount == c->history) {
        free(r->hist[r->hfirst]);
        r->hfirst = (r->hfirst + 1) % c->history;
    } else {
        r->hcount++;
    }
    r->hist[at] = copy;
}

/* The user is in r now: a greeting, the history (as much as fits half its
 * queue: the rest of the queue is for what comes live), a notice to the
 * others. */
static void arrive(netsrv_chat *c, chat_user *u, chat_room *r)
{
    u->room = r;
    r->members++;
    tell(u, "* you are %s in %s (%u here); /help lists the commands\n", u->nick, r->name,
         r->members);
    size_t budget = c->queue / 2, used = 0;
    unsigned skip = 0;
    for (unsigned i = r->hcount; i > 0; i--) {
        size_t len = strlen(r->hist[(r->hfirst + i - 1) % c->history]);
        if (used + len > budget) {
            skip = i;
            break;
        }
        used += len;
    }
    for (unsigned i = skip; i < r->hcount; i++) {
        const char *line = r->hist[(r->hfirst + i) % c->history];
        netsrv_group_send_to(r->g, u->req, line, strlen(line));
    }
    room_say(r, u->req, "* %s joined\n", u->nick);
}

/* The room lost a member; an empty room other than the lobby goes. */
static void depart(netsrv_chat *c, chat_room *r)
{
    if (--r->members || r == c->rooms)
        return;
    for (chat_room **p = &c->rooms; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    c->nrooms--;
    room_free(r, c->history);
}

static chat_user *find_nick(netsrv_chat *c, const char *nick)
{
    for (chat_user *u = c->users; u; u = u->next)
        if (strcasecmp(u->nick, nick) == 0)
            return u;
    return NULL;
}

/* ---- the handler ---- */

static int chat_setup(netsrv_request *req)
{
    netsrv_chat *c = chat_of(req);
    chat_user *u = netsrv_request_state(req);
    if (!c) {
        netsrv_printf(req, "! the chat server is out of memory\n");
        return -ENOMEM;
    }
    u->req = req;
    pthread_mutex_lock(&c->lock);
    chat_room *lobby = c->rooms;
    int rc = netsrv_group_join(lobby->g, req);
    if (rc < 0) {
        pthread_mutex_unlock(&c->lock);
        netsrv_printf(req, "! the chat cannot run here: %s\n",
                      rc == -ENOTSUP ? "it needs thread or async mode" : netsrv_strerror(rc));
        return rc;
    }
    do
        snprintf(u->nick, sizeof u->nick, "guest%lu", c->next_guest++);
    while (find_nick(c, u->nick));
    u->next = c->users;
    if (c->users)
        c->users->prev = u;
    c->users = u;
    u->in = 1;
    arrive(c, u, lobby);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static void chat_finish(netsrv_request *req)
{
    netsrv_chat *c = chat_of(req);
    chat_user *u = netsrv_request_state(req);
    if (!u->in)
        return;
    unsigned long long dropped = 0;
    int kicked = netsrv_group_member_stats(req, &dropped, NULL) == 1;
    pthread_mutex_lock(&c->lock);
    chat_room *r = u->room;
    netsrv_group_leave(r->g, req);
    if (kicked)
        room_say(r, NULL, "* %s left (too slow, %llu messages dropped)\n", u->nick, dropped);
    else if (u->why[0])
        room_say(r, NULL, "* %s left (%s)\n", u->nick, u->why);
    else
        room_say(r, NULL, "* %s left\n", u->nick);
    if (u->prev)
        u->prev->next = u->next;
    else
        c->users = u->next;
    if (u->next)
        u->next->prev = u->prev;
    u->in = 0;
    depart(c, r);
    pthread_mutex_unlock(&c->lock);
}

static void do_nick(netsrv_chat *c, chat_user *u, const char *nick)
{
    pthread_mutex_lock(&c->lock);
    chat_user *other = find_nick(c, nick);
    if (other == u && strcmp(u->nick, nick) == 0) {
        tell(u, "! you are %s already\n", nick);
    } else if (other && other != u) {
        tell(u, "! nick %s is taken\n", nick);
    } else {
        room_say(u->room, u->req, "* %s is now known as %s\n", u->nick, nick);
        snprintf(u->nick, sizeof u->nick, "%s", nick);
        tell(u, "* you are now %s\n", nick);
    }
    pthread_mutex_unlock(&c->lock);
}

/* "* in ROOM: a b c", or "* rooms: lobby (3), dev (1)". */
static void do_list(netsrv_chat *c, chat_user *u, int rooms)
{
    pthread_mutex_lock(&c->lock);
    size_t cap = 64 + (size_t)(rooms ? c->nrooms : u->room->members) * (NETSRV_CHAT_NAME_MAX + 16);
    char *buf = malloc(cap);
    if (buf) {
        size_t n;
        if (rooms) {
            n = (size_t)snprintf(buf, cap, "* rooms:");
            for (chat_room *r = c->rooms; r; r = r->next)
                n += (size_t)snprintf(buf + n, cap - n, "%s %s (%u)", r == c->rooms ? "" : ",",
                                      r->name, r->members);
        } else {
            n = (size_t)snprintf(buf, cap, "* in %s:", u->room->name);
            for (chat_user *o = c->users; o; o = o->next)
                if (o->room == u->room)
                    n += (size_t)snprintf(buf + n, cap - n, " %s", o->nick);
        }
        n += (size_t)snprintf(buf + n, cap - n, "\n");
        netsrv_group_send_to(u->room->g, u->req, buf, n);
        free(buf);
    }
    pthread_mutex_unlock(&c->lock);
}

static void do_join(netsrv_chat *c, chat_user *u, const char *name)
{
    pthread_mutex_lock(&c->lock);
    chat_room *r = c->rooms;
    while (r && strcmp(r->name, name) != 0)
        r = r->next;
    if (r == u->room) {
        tell(u, "! you are in %s already\n", name);
    } else if (!r && c->nrooms >= NETSRV_CHAT_ROOMS_MAX) {
        tell(u, "! too many rooms (at most %d)\n", NETSRV_CHAT_ROOMS_MAX);
    } else if (!r && !(r = room_new(c, name))) {
        tell(u, "! no memory for a new room\n");
    } else {
        if (r->members == 0 && r != c->rooms) {
            int listed = 0;
            for (chat_room *p = c->rooms; p; p = p->next)
                listed |= p == r;
            if (!listed) { /* new: last, so /rooms lists the oldest first */
                chat_room **p = &c->rooms;
                while (*p)
                    p = &(*p)->next;
                *p = r;
                c->nrooms++;
            }
        }
        chat_room *old = u->room;
        /* The queue moves along: a line half sent goes on whole. */
        netsrv_group_move(old->g, r->g, u->req);
        room_say(old, NULL, "* %s left for %s\n", u->nick, r->name);
        depart(c, old);
        arrive(c, u, r);
    }
    pthread_mutex_unlock(&c->lock);
}

static void do_say(netsrv_chat *c, chat_user *u, int me, const char *text)
{
    char line[OUT_MAX];
    int n = me ? snprintf(line, sizeof line, "* %s %s\n", u->nick, text)
               : snprintf(line, sizeof line, "%s: %s\n", u->nick, text);
    if (n < 0)
        return;
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    pthread_mutex_lock(&c->lock);
    remember(c, u->room, line, (size_t)n);
    netsrv_group_send(u->room->g, u->req, line, (size_t)n);
    pthread_mutex_unlock(&c->lock);
}

/* Reads and drops the rest of an overlong line; 0 at its end, else the
 * stream's end or error. */
static int skip_line(netsrv_request *req, char *buf, size_t len)
{
    for (;;) {
        int how;
        ssize_t n = netsrv_getline(req, buf, len, &how);
        if (n <= 0)
            return n == 0 ? -EPIPE : (int)n;
        if (how == NETSRV_LINE_END)
            return 0;
        if (how == NETSRV_LINE_EOF)
            return -EPIPE;
    }
}

static int chat_handle(netsrv_request *req)
{
    netsrv_chat *c = chat_of(req);
    chat_user *u = netsrv_request_state(req);
    if (!u->started) {
        /* The greeting is queued: idle (stackless) until the client speaks. */
        u->started = 1;
        return NETSRV_AGAIN;
    }
    /* A line and its "\r\n"; one byte more and it is too long. */
    char line[NETSRV_CHAT_LINE_MAX + 3], text[NETSRV_CHAT_LINE_MAX + 3];
    int how;
    ssize_t n = netsrv_getline(req, line, sizeof line, &how);
    if (n == 0)
        netsrv_group_flush(req, 5); /* a half-close: it may still read */
    if (n <= 0)
        return n == -ECONNABORTED ? 0 : (int)n; /* cut off: finish tells the room */
    if (how == NETSRV_LINE_LONG) {
        tell(u, "! line too long (at most %d bytes): not sent\n", NETSRV_CHAT_LINE_MAX);
        int rc = skip_line(req, line, sizeof line);
        if (rc < 0)
            return rc == -EPIPE || rc == -ECONNABORTED ? 0 : rc;
        return NETSRV_AGAIN;
    }
    netsrv_chat_cmd cmd;
    int kind = netsrv_chat_parse(line, (size_t)n, text, sizeof text, &cmd);
    switch (kind) {
    case NETSRV_CHAT_SAY:
        do_say(c, u, 0, cmd.text);
        break;
    case NETSRV_CHAT_ME:
        do_say(c, u, 1, cmd.text);
        break;
    case NETSRV_CHAT_NICK:
        do_nick(c, u, cmd.text);
        break;
    case NETSRV_CHAT_WHO:
        do_list(c, u, 0);
        break;
    case NETSRV_CHAT_ROOMS:
        do_list(c, u, 1);
        break;
    case NETSRV_CHAT_JOIN:
        do_join(c, u, cmd.text);
        break;
    case NETSRV_CHAT_HELP:
        tell(u, "* commands: /nick NAME, /who, /me ACTION, /join ROOM, /rooms, /quit [REASON], "
                "/help; //TEXT says /TEXT; logout ends the session too\n");
        break;
    case NETSRV_CHAT_QUIT:
        snprintf(u->why, sizeof u->why, "%s", strcmp(cmd.text, "logout") == 0 ? "" : cmd.text);
        /* What is queued goes out first: the queue goes with the
         * membership, and the goodbye straight to the socket. */
        netsrv_group_flush(req, 5);
        netsrv_printf(req, "* bye\n");
        return 0;
    case NETSRV_CHAT_EMPTY:
        break;
    case -ENOSYS:
        tell(u, "! unknown command %.*s (try /help)\n", (int)strcspn(text, " "), text);
        break;
    default:
        tell(u, "! %s: not sent\n", cmd.error);
        break;
    }
    if (how == NETSRV_LINE_EOF) {
        netsrv_group_flush(req, 5); /* the replies to its last line */
        return 0;
    }
    return NETSRV_AGAIN;
}

const netsrv_handler netsrv__handler_chat = {
    .name = "chat",
    .setup = chat_setup,
    .handle = chat_handle,
    .finish = chat_finish,
    .state_size = sizeof(chat_user),
};
