/* crawl.c - a crawler's frontier: the pages queued, being fetched and
 * done, the seen set that keeps any URL from being fetched twice, each
 * host's robots.txt and politeness delay.  It fetches nothing itself:
 * netsrv_crawl_next hands out what to fetch next (a page, or a host's
 * robots.txt first), the caller fetches it however it likes and reports
 * back with the links it found.  Everything lives in SQLite (a file in WAL
 * mode with --state, else in memory), one transaction per page, so that
 * a crawl killed at any point resumes where it stopped.
 */
#include "config.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netsrv.h"

/* A page's state in the pages table. */
enum {
    CR_QUEUED = 0,
    CR_FETCHING = 1,    /* handed out; committed before the fetch starts */
    CR_DONE = 2,
    CR_FAILED = 3,
    CR_DISALLOWED = 4,  /* robots.txt says no */
    CR_LOST = 5         /* was being fetched when a run stopped: at most
                           once means it is not fetched again */
};

struct cr_host {
    char *key;              /* "scheme://authority" */
    netsrv_robots *robots;  /* NULL until known (or not obeyed) */
    int robots_known, robots_pending;
    double delay;           /* max(the crawl's delay, its Crawl-delay) */
    double next_ok;         /* netsrv_now() from which it may be fetched */
};

struct cr_link {
    char *url;
    struct cr_link *next;
};

struct netsrv_crawl {
    sqlite3 *db;
    netsrv_crawl_opts o;
    char *agent;
    struct cr_host *hosts;
    size_t nhosts, hosts_cap;
    long long taken;        /* pages handed out, over every run */
    unsigned inflight;
    sqlite3_stmt *pick, *take, *insert, *finish, *seed, *is_seed, *host_put;
};

/* Items keep their pending links and strings here. */
struct cr_item_priv {
    char *url, *host;
    struct cr_link *links, **tail; /* in the page's order */
    size_t nlinks;
};

#define CR_SCAN_MAX 1000 /* queued rows looked at per netsrv_crawl_next */

static int cr_err(netsrv_crawl *cr, sqlite3 *db, int rc, char *err, size_t errlen)
{
    (void)cr;
    if (err && errlen)
        snprintf(err, errlen, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (rc == SQLITE_NOMEM)
        return -ENOMEM;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return -EBUSY;
    if (rc == SQLITE_CANTOPEN || rc == SQLITE_PERM || rc == SQLITE_READONLY)
        return -EACCES;
    return -EIO;
}

static int cr_exec(netsrv_crawl *cr, const char *sql, char *err, size_t errlen)
{
    int rc = sqlite3_exec(cr->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : cr_err(cr, cr->db, rc, err, errlen);
}

static const char cr_schema[] =
    "CREATE TABLE IF NOT EXISTS pages("
    " id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, host TEXT NOT NULL,"
    " depth INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS pages_state ON pages(state, id);"
    "CREATE TABLE IF NOT EXISTS hosts(host TEXT PRIMARY KEY, robots TEXT);"
    "CREATE TABLE IF NOT EXISTS seeds(host TEXT PRIMARY KEY);";

/* "scheme://authority" of an absolute URL, into a new string. */
static char *cr_host_of(const char *url)
{
    const char *p = strstr(url, "://");
    size_t n;
    char *h;

    if (!p)
        return NULL;
    p += 3;
    n = (size_t)(p - url) + strcspn(p, "/?#");
    if (!(h = malloc(n + 1)))
        return NULL;
    memcpy(h, url, n);
    h[n] = '\0';
    return h;
}

static struct cr_host *cr_host(netsrv_crawl *cr, const char *key)
{
    struct cr_host *h;

    for (size_t i = 0; i < cr->nhosts; i++)
        if (strcmp(cr->hosts[i].key, key) == 0)
            return &cr->hosts[i];
    if (cr->nhosts == cr->hosts_cap) {
        size_t cap = cr->hosts_cap ? cr->hosts_cap * 2 : 8;

        if (!(h = realloc(cr->hosts, cap * sizeof *h)))
            return NULL;
        cr->hosts = h;
        cr->hosts_cap = cap;
    }
    h = &cr->hosts[cr->nhosts];
    memset(h, 0, sizeof *h);
    if (!(h->key = strdup(key)))
        return NULL;
    h->delay = cr->o.delay;
    cr->nhosts++;
    return h;
}

/* Applies a host's robots.txt text (NULL: none, everything allowed). */
static int cr_host_robots(netsrv_crawl *cr, struct cr_host *h, const char *text, size_t len)
{
    int rc = netsrv_robots_new(&h->robots, text, len, cr->agent);
    double d;

    if (rc < 0)
        return rc;
    h->robots_known = 1;
    h->robots_pending = 0;
    d = netsrv_robots_delay(h->robots);
    if (d > h->delay)
        h->delay = d;
    return 0;
}

int netsrv_crawl_open(netsrv_crawl **out, const netsrv_crawl_opts *o, char *err, size_t errlen)
{
    netsrv_crawl *cr;
    sqlite3_stmt *st = NULL;
    const char *path = o && o->state ? o->state : ":memory:";
    int rc;

    *out = NULL;
    if (!(cr = calloc(1, sizeof *cr)))
        return -ENOMEM;
    if (o)
        cr->o = *o;
    cr->o.state = NULL;
    if (!(cr->agent = strdup(o && o->agent ? o->agent : "nettool"))) {
        free(cr);
        return -ENOMEM;
    }
    rc = sqlite3_open_v2(path, &cr->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        rc = cr_err(cr, cr->db, rc, err, errlen);
        netsrv_crawl_close(cr);
        return rc;
    }
    sqlite3_busy_timeout(cr->db, 5000);
    /* WAL with synchronous=NORMAL: a commit survives the process being
     * killed (only a power cut may lose the last ones), at one write per
     * transaction instead of several fsyncs. */
    if (o && o->state &&
        ((rc = cr_exec(cr, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err, errlen)) < 0)) {
        netsrv_crawl_close(cr);
        return rc;
    }
    if ((rc = cr_exec(cr, cr_schema, err, errlen)) < 0 ||
        /* Pages a killed run was fetching are not fetched again. */
        (rc = cr_exec(cr, "UPDATE pages SET state=5 WHERE state=1;", err, errlen)) < 0) {
        if (err && errlen && strstr(err, "not a database"))
            snprintf(err, errlen, "%s: not a crawl state file (%s)", o->state,
                     sqlite3_errmsg(cr->db));
        netsrv_crawl_close(cr);
        return rc;
    }
#define CR_PREP(stmt, sql) \
    if ((rc = sqlite3_prepare_v2(cr->db, sql, -1, &cr->stmt, NULL)) != SQLITE_OK) \
        goto sqlfail;
    CR_PREP(pick, "SELECT id, url, host, depth FROM pages WHERE state=0 ORDER BY id");
    CR_PREP(take, "UPDATE pages SET state=?2 WHERE id=?1");
    CR_PREP(insert, "INSERT OR IGNORE INTO pages(url, host, depth) VALUES(?1, ?2, ?3)");
    CR_PREP(finish, "UPDATE pages SET state=?2 WHERE id=?1");
    CR_PREP(seed, "INSERT OR IGNORE INTO seeds(host) VALUES(?1)");
    CR_PREP(is_seed, "SELECT 1 FROM seeds WHERE host=?1");
    CR_PREP(host_put, "INSERT OR REPLACE INTO hosts(host, robots) VALUES(?1, ?2)");
#undef CR_PREP
    if (sqlite3_prepare_v2(cr->db, "SELECT count(*) FROM pages WHERE state IN (1,2,3,5)", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        cr->taken = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    /* robots.txt files an earlier run fetched are not fetched again. */
    if (cr->o.robots &&
        sqlite3_prepare_v2(cr->db, "SELECT host, robots FROM hosts", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            struct cr_host *h = cr_host(cr, (const char *)sqlite3_column_text(st, 0));
            const char *t = (const char *)sqlite3_column_text(st, 1);

            if (!h || cr_host_robots(cr, h, t, t ? strlen(t) : 0) < 0) {
                sqlite3_finalize(st);
                netsrv_crawl_close(cr);
                return -ENOMEM;
            }
        }
    }
    sqlite3_finalize(st);
    *out = cr;
    return 0;
sqlfail:
    rc = cr_err(cr, cr->db, rc, err, errlen);
    netsrv_crawl_close(cr);
    return rc;
}

void netsrv_crawl_close(netsrv_crawl *cr)
{
    if (!cr)
        return;
    sqlite3_finalize(cr->pick);
    sqlite3_finalize(cr->take);
    sqlite3_finalize(cr->insert);
    sqlite3_finalize(cr->finish);
    sqlite3_finalize(cr->seed);
    sqlite3_finalize(cr->is_seed);
    sqlite3_finalize(cr->host_put);
    sqlite3_close(cr->db);
    for (size_t i = 0; i < cr->nhosts; i++) {
        free(cr->hosts[i].key);
        netsrv_robots_free(cr->hosts[i].robots);
    }
    free(cr->hosts);
    free(cr->agent);
    free(cr);
}

static int cr_step_done(netsrv_crawl *cr, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : cr_err(cr, cr->db, rc, NULL, 0);
}

int netsrv_crawl_add(netsrv_crawl *cr, const char *url, char *err, size_t errlen)
{
    char buf[NETSRV_URL_MAX], *host;
    ssize_t n = netsrv_url_resolve(url, strlen(url), "", 0, NETSRV_URL_NO_FRAGMENT, buf, sizeof buf);
    int rc, added;

    if (n < 0 || (strncmp(buf, "http://", 7) != 0 && strncmp(buf, "https://", 8) != 0)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: not an http or https URL", url);
        return -EINVAL;
    }
    if (!(host = cr_host_of(buf)))
        return -ENOMEM;
    sqlite3_bind_text(cr->seed, 1, host, -1, SQLITE_TRANSIENT);
    rc = cr_step_done(cr, cr->seed);
    if (rc == 0) {
        sqlite3_bind_text(cr->insert, 1, buf, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(cr->insert, 2, host, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(cr->insert, 3, 0);
        rc = cr_step_done(cr, cr->insert);
    }
    added = sqlite3_changes(cr->db) > 0;
    free(host);
    if (rc < 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s", sqlite3_errmsg(cr->db));
        return rc;
    }
    return added;
}

static int cr_item_set(netsrv_crawl_item *it, int kind, long long id, const char *url,
                       const char *host, int depth)
{
    struct cr_item_priv *p = calloc(1, sizeof *p);

    if (!p || !(p->url = strdup(url)) || !(p->host = strdup(host))) {
        if (p) {
            free(p->url);
            free(p);
        }
        return -ENOMEM;
    }
    memset(it, 0, sizeof *it);
    it->kind = kind;
    it->id = id;
    it->url = p->url;
    it->depth = depth;
    it->priv = p;
    return 0;
}

static void cr_item_free(netsrv_crawl_item *it)
{
    struct cr_item_priv *p = it->priv;
    struct cr_link *l, *next;

    if (!p)
        return;
    for (l = p->links; l; l = next) {
        next = l->next;
        free(l->url);
        free(l);
    }
    free(p->url);
    free(p->host);
    free(p);
    it->priv = NULL;
    it->url = NULL;
}

int netsrv_crawl_next(netsrv_crawl *cr, netsrv_crawl_item *it, double *when)
{
    double now = netsrv_now(), soonest = 0;
    int rows = 0, waiting = 0, rc;

    *when = 0;
    memset(it, 0, sizeof *it);
    if (cr->o.max_pages > 0 && cr->taken >= cr->o.max_pages)
        return cr->inflight ? -EAGAIN : 0;
    for (;;) {
        long long id;
        const char *url, *hkey, *target;
        struct cr_host *h;
        int depth;

        rc = sqlite3_step(cr->pick);
        if (rc != SQLITE_ROW || ++rows > CR_SCAN_MAX)
            break;
        id = sqlite3_column_int64(cr->pick, 0);
        url = (const char *)sqlite3_column_text(cr->pick, 1);
        hkey = (const char *)sqlite3_column_text(cr->pick, 2);
        depth = sqlite3_column_int(cr->pick, 3);
        if (!(h = cr_host(cr, hkey))) {
            sqlite3_reset(cr->pick);
            return -ENOMEM;
        }
        if (cr->o.robots && !h->robots_known) {
            char rurl[NETSRV_URL_MAX];

            if (h->robots_pending) {
                waiting = 1;
                continue;
            }
            /* The host's robots.txt comes before any of its pages. */
            h->robots_pending = 1;
            snprintf(rurl, sizeof rurl, "%s/robots.txt", hkey);
            rc = cr_item_set(it, NETSRV_CRAWL_ROBOTS, 0, rurl, hkey, 0);
            sqlite3_reset(cr->pick);
            if (rc < 0)
                return rc;
            cr->inflight++;
            return 1;
        }
        target = url + strlen(hkey);
        if (h->robots && !netsrv_robots_allowed(h->robots, *target ? target : "/",
                                                *target ? strlen(target) : 1)) {
            rc = cr_item_set(it, NETSRV_CRAWL_DISALLOWED, id, url, hkey, depth);
            sqlite3_reset(cr->pick);
            if (rc < 0)
                return rc;
            sqlite3_bind_int64(cr->take, 1, id);
            sqlite3_bind_int(cr->take, 2, CR_DISALLOWED);
            if ((rc = cr_step_done(cr, cr->take)) < 0) {
                cr_item_free(it);
                return rc;
            }
            return 1;
        }
        if (h->next_ok > now) {
            if (!waiting || h->next_ok < soonest)
                soonest = h->next_ok;
            waiting = 1;
            continue;
        }
        rc = cr_item_set(it, NETSRV_CRAWL_PAGE, id, url, hkey, depth);
        sqlite3_reset(cr->pick);
        if (rc < 0)
            return rc;
        /* Committed before the fetch: a run killed during it never
         * fetches the page again (see CR_LOST). */
        sqlite3_bind_int64(cr->take, 1, id);
        sqlite3_bind_int(cr->take, 2, CR_FETCHING);
        if ((rc = cr_step_done(cr, cr->take)) < 0) {
            cr_item_free(it);
            return rc;
        }
        h->next_ok = now + h->delay;
        cr->taken++;
        cr->inflight++;
        return 1;
    }
    sqlite3_reset(cr->pick);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return cr_err(cr, cr->db, rc, NULL, 0);
    if (waiting || rows > CR_SCAN_MAX || cr->inflight) {
        *when = soonest;
        return -EAGAIN;
    }
    return 0;
}

int netsrv_crawl_link(netsrv_crawl *cr, netsrv_crawl_item *it, const char *link, size_t len)
{
    struct cr_item_priv *p = it->priv;
    char buf[NETSRV_URL_MAX], *host;
    struct cr_link *l;
    ssize_t n;
    int ok = 1;

    if (!p || it->kind != NETSRV_CRAWL_PAGE)
        return -EINVAL;
    if (cr->o.max_depth >= 0 && it->depth + 1 > cr->o.max_depth)
        return 0;
    n = netsrv_url_resolve(it->url, strlen(it->url), link, len, NETSRV_URL_NO_FRAGMENT, buf,
                           sizeof buf);
    if (n < 0)
        return n == -ENOMEM ? -ENOMEM : 0;
    if (strncmp(buf, "http://", 7) != 0 && strncmp(buf, "https://", 8) != 0)
        return 0;
    if (cr->o.same_host) {
        if (!(host = cr_host_of(buf)))
            return -ENOMEM;
        sqlite3_bind_text(cr->is_seed, 1, host, -1, SQLITE_TRANSIENT);
        ok = sqlite3_step(cr->is_seed) == SQLITE_ROW;
        sqlite3_reset(cr->is_seed);
        sqlite3_clear_bindings(cr->is_seed);
        free(host);
        if (!ok)
            return 0;
    }
    if (!(l = malloc(sizeof *l)) || !(l->url = strdup(buf))) {
        free(l);
        return -ENOMEM;
    }
    l->next = NULL;
    *(p->tail ? p->tail : &p->links) = l;
    p->tail = &l->next;
    p->nlinks++;
    return 1;
}

int netsrv_crawl_done(netsrv_crawl *cr, netsrv_crawl_item *it, int status, const char *body,
                      size_t len)
{
    struct cr_item_priv *p = it->priv;
    struct cr_link *l;
    struct cr_host *h;
    int rc = 0, added = 0;

    if (!p)
        return -EINVAL;
    if (it->kind == NETSRV_CRAWL_DISALLOWED) {
        cr_item_free(it);
        return 0;
    }
    cr->inflight--;
    if (it->kind == NETSRV_CRAWL_ROBOTS) {
        /* Only a robots.txt that came (2xx) has rules; a 4xx means none,
         * and one that cannot be had counts as none too: the pages then
         * report their own failures. */
        if (!(h = cr_host(cr, p->host))) {
            cr_item_free(it);
            return -ENOMEM;
        }
        if (status < 200 || status > 299)
            body = NULL, len = 0;
        if ((rc = cr_host_robots(cr, h, body, len)) == 0) {
            char *text = NULL;

            if (body && (text = malloc(len + 1))) {
                memcpy(text, body, len);
                text[len] = '\0';
            }
            sqlite3_bind_text(cr->host_put, 1, p->host, -1, SQLITE_TRANSIENT);
            if (text)
                sqlite3_bind_text(cr->host_put, 2, text, -1, free);
            else
                sqlite3_bind_null(cr->host_put, 2);
            rc = cr_step_done(cr, cr->host_put);
        }
        cr_item_free(it);
        return rc;
    }
    /* The page's end and the links it brought, in one transaction. */
    if ((rc = cr_exec(cr, "BEGIN", NULL, 0)) < 0) {
        cr_item_free(it);
        return rc;
    }
    for (l = p->links; l && rc == 0; l = l->next) {
        char *host = cr_host_of(l->url);

        if (!host) {
            rc = -ENOMEM;
            break;
        }
        sqlite3_bind_text(cr->insert, 1, l->url, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(cr->insert, 2, host, -1, free);
        sqlite3_bind_int(cr->insert, 3, it->depth + 1);
        rc = cr_step_done(cr, cr->insert);
        added += sqlite3_changes(cr->db) > 0;
    }
    if (rc == 0) {
        sqlite3_bind_int64(cr->finish, 1, it->id);
        sqlite3_bind_int(cr->finish, 2, status >= 0 ? CR_DONE : CR_FAILED);
        rc = cr_step_done(cr, cr->finish);
    }
    if (rc == 0)
        rc = cr_exec(cr, "COMMIT", NULL, 0);
    if (rc < 0)
        cr_exec(cr, "ROLLBACK", NULL, 0);
    cr_item_free(it);
    return rc < 0 ? rc : added;
}

void netsrv_crawl_release(netsrv_crawl_item *it)
{
    cr_item_free(it);
}

int netsrv_crawl_count(netsrv_crawl *cr, netsrv_crawl_counts *st)
{
    sqlite3_stmt *q;
    int rc;

    memset(st, 0, sizeof *st);
    rc = sqlite3_prepare_v2(cr->db, "SELECT state, count(*) FROM pages GROUP BY state", -1, &q,
                            NULL);
    if (rc != SQLITE_OK)
        return cr_err(cr, cr->db, rc, NULL, 0);
    while (sqlite3_step(q) == SQLITE_ROW) {
        long long n = sqlite3_column_int64(q, 1);

        switch (sqlite3_column_int(q, 0)) {
        case CR_QUEUED: st->queued = n; break;
        case CR_FETCHING: st->fetching = n; break;
        case CR_DONE: st->done = n; break;
        case CR_FAILED: st->failed = n; break;
        case CR_DISALLOWED: st->disallowed = n; break;
        case CR_LOST: st->lost = n; break;
        }
    }
    sqlite3_finalize(q);
    return 0;
}
