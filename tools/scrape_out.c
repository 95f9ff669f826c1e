/* scrape_out.c - where "nettool scrape" puts its matches: text (the
 * columns, tab-separated), TSV (url, offset, columns, escaped, --header),
 * JSON Lines (one object per match, valid JSON whatever the bytes), the
 * set behind -u, the count of -c, and the rows of --db in SQLite.
 */
#include "config.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netsrv.h>

#include "applets.h"
#include "scrape.h"

/* ------------------------------------------------------------ -u's set */

struct sc_set {
    char **keys;
    size_t *lens;
    size_t cap, n;
};

static uint64_t sc_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* 1 when key[0..n) is new (and now in the set), 0 when seen, -1 no memory. */
static int sc_set_add(struct sc_set *st, const char *key, size_t n)
{
    size_t i;

    if (st->n * 2 >= st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 1024;
        char **keys = calloc(cap, sizeof *keys);
        size_t *lens = calloc(cap, sizeof *lens);

        if (!keys || !lens) {
            free(keys);
            free(lens);
            return -1;
        }
        for (size_t k = 0; k < st->cap; k++) {
            if (!st->keys[k])
                continue;
            for (i = sc_hash(st->keys[k], st->lens[k]) & (cap - 1); keys[i]; i = (i + 1) & (cap - 1))
                ;
            keys[i] = st->keys[k];
            lens[i] = st->lens[k];
        }
        free(st->keys);
        free(st->lens);
        st->keys = keys;
        st->lens = lens;
        st->cap = cap;
    }
    for (i = sc_hash(key, n) & (st->cap - 1); st->keys[i]; i = (i + 1) & (st->cap - 1))
        if (st->lens[i] == n && memcmp(st->keys[i], key, n) == 0)
            return 0;
    if (!(st->keys[i] = malloc(n ? n : 1)))
        return -1;
    memcpy(st->keys[i], key, n);
    st->lens[i] = n;
    st->n++;
    return 1;
}

static void sc_set_free(struct sc_set *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->cap; i++)
        free(st->keys[i]);
    free(st->keys);
    free(st->lens);
    free(st);
}

/* ----------------------------------------------------------- escaping */

static void sc_tsv(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        switch (c) {
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\\': fputs("\\\\", f); break;
        default: putc_unlocked(c, f);
        }
    }
}

/* ------------------------------------------------------------- --db */

struct sc_db {
    sqlite3 *db;
    sqlite3_stmt *ins;
    int ngroups;
    int groups[SC_MAX_COLS]; /* the named groups, in column order */
};

static int sc_db_fail(struct sc_db *d, const char *what)
{
    nt_error("--db: %s: %s", what, sqlite3_errmsg(d->db));
    return -1;
}

/* An SQL identifier for a group's name: quoted, and kept off the fixed
 * columns' names. */
static void sc_db_ident(char *out, size_t cap, const char *name)
{
    size_t o = 0;
    int fixed = strcmp(name, "url") == 0 || strcmp(name, "offset") == 0 ||
                strcmp(name, "match") == 0;

    o += (size_t)snprintf(out, cap, "\"%s", fixed ? "group_" : "");
    for (; *name && o + 3 < cap; name++) {
        if (*name == '"')
            out[o++] = '"';
        out[o++] = *name;
    }
    out[o++] = '"';
    out[o] = '\0';
}

int sc_out_open_db(struct sc_out *o, const char *path, const netsrv_regex *re)
{
    struct sc_db *d = calloc(1, sizeof *d);
    char sql[8192], id[300];
    size_t n;
    int rc;

    if (!d) {
        nt_error("--db: out of memory");
        return -1;
    }
    o->db = d;
    if ((rc = sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) !=
        SQLITE_OK) {
        nt_error("--db %s: %s", path, d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
        return -1;
    }
    sqlite3_busy_timeout(d->db, 5000);
    if (sqlite3_exec(d->db, "PRAGMA journal_mode=WAL;"
                            "CREATE TABLE IF NOT EXISTS matches(url TEXT NOT NULL,"
                            " offset INTEGER NOT NULL, match TEXT)", NULL, NULL, NULL) != SQLITE_OK)
        return sc_db_fail(d, path);
    /* A column per named group; an earlier run's table gets the new ones. */
    for (int g = 1; g <= netsrv_regex_groups(re) && d->ngroups < SC_MAX_COLS; g++) {
        const char *name = netsrv_regex_group_name(re, g);
        char *e = NULL;

        if (!name)
            continue;
        sc_db_ident(id, sizeof id, name);
        snprintf(sql, sizeof sql, "ALTER TABLE matches ADD COLUMN %s TEXT", id);
        if (sqlite3_exec(d->db, sql, NULL, NULL, &e) != SQLITE_OK &&
            (!e || !strstr(e, "duplicate column"))) {
            sqlite3_free(e);
            return sc_db_fail(d, path);
        }
        sqlite3_free(e);
        d->groups[d->ngroups++] = g;
    }
    n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO matches(url, offset, match");
    for (int i = 0; i < d->ngroups; i++) {
        sc_db_ident(id, sizeof id, netsrv_regex_group_name(re, d->groups[i]));
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", %s", id);
    }
    n += (size_t)snprintf(sql + n, sizeof sql - n, ") VALUES(?, ?, ?");
    for (int i = 0; i < d->ngroups; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", ?");
    snprintf(sql + n, sizeof sql - n, ")");
    if (sqlite3_prepare_v2(d->db, sql, -1, &d->ins, NULL) != SQLITE_OK)
        return sc_db_fail(d, path);
    return 0;
}

int sc_out_begin(struct sc_out *o)
{
    struct sc_db *d = o->db;

    if (d && sqlite3_exec(d->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return sc_db_fail(d, "BEGIN");
    return 0;
}

int sc_out_end(struct sc_out *o)
{
    struct sc_db *d = o->db;

    /* The page's rows are there for good, or not at all. */
    if (d && sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sc_db_fail(d, "COMMIT");
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (!d && fflush(stdout) != 0 && !o->failed) {
        nt_error("standard output: %s", strerror(errno));
        o->failed = 1;
    }
    return o->failed ? -1 : 0;
}

static int sc_db_row(struct sc_out *o, const char *url, const netsrv_regex_scan *s)
{
    struct sc_db *d = o->db;
    size_t st, n;

    sqlite3_bind_text(d->ins, 1, url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(d->ins, 2, (sqlite3_int64)s->ovector[0]);
    netsrv_regex_span(s, 0, &st, &n);
    sqlite3_bind_text(d->ins, 3, s->subject + st, (int)n, SQLITE_STATIC);
    for (int i = 0; i < d->ngroups; i++) {
        if (netsrv_regex_span(s, d->groups[i], &st, &n))
            sqlite3_bind_text(d->ins, 4 + i, s->subject + st, (int)n, SQLITE_STATIC);
        else
            sqlite3_bind_null(d->ins, 4 + i);
    }
    if (sqlite3_step(d->ins) != SQLITE_DONE) {
        sqlite3_reset(d->ins);
        return sc_db_fail(d, "INSERT");
    }
    sqlite3_reset(d->ins);
    return 0;
}

/* -------------------------------------------------------------- output */

static void sc_col_name(const struct sc_out *o, int i, char *buf, size_t len)
{
    if (o->names[i])
        snprintf(buf, len, "%s", o->names[i]);
    else if (o->cols[i] == 0)
        snprintf(buf, len, "match");
    else
        snprintf(buf, len, "%d", o->cols[i]);
}

void sc_out_start(struct sc_out *o)
{
    char name[256];

    if (o->format == SC_TSV && o->header && !o->count && !o->db) {
        fputs("url\toffset", stdout);
        for (int i = 0; i < o->ncols; i++) {
            sc_col_name(o, i, name, sizeof name);
            putchar('\t');
            sc_tsv(stdout, name, strlen(name));
        }
        putchar('\n');
    }
}

int sc_out_match(struct sc_out *o, const char *url, const netsrv_regex_scan *s)
{
    FILE *f = stdout;
    size_t st, n;
    char name[256];

    if (o->unique) {
        /* The key: each column's length and bytes. */
        char *key;
        size_t k = 0, total = 0;
        int rc;

        for (int i = 0; i < o->ncols; i++)
            total += sizeof(size_t) + (netsrv_regex_span(s, o->cols[i], &st, &n) ? n : 0) + 1;
        if (!o->seen && !(o->seen = calloc(1, sizeof(struct sc_set))))
            return -1;
        if (!(key = malloc(total ? total : 1)))
            return -1;
        for (int i = 0; i < o->ncols; i++) {
            int set;

            st = 0;
            set = netsrv_regex_span(s, o->cols[i], &st, &n);

            if (!set)
                n = 0;
            memcpy(key + k, &n, sizeof n);
            k += sizeof n;
            key[k++] = (char)set;
            memcpy(key + k, s->subject + st * (size_t)set, n);
            k += n;
        }
        rc = sc_set_add(o->seen, key, k);
        free(key);
        if (rc < 0) {
            nt_error("-u: out of memory");
            return -1;
        }
        if (rc == 0)
            return 0;
    }
    o->matches++;
    if (o->db)
        return sc_db_row(o, url, s);
    if (o->count)
        return 0;
    switch (o->format) {
    case SC_TEXT:
        for (int i = 0; i < o->ncols; i++) {
            if (i > 0)
                putc_unlocked('\t', f);
            if (netsrv_regex_span(s, o->cols[i], &st, &n))
                fwrite_unlocked(s->subject + st, 1, n, f);
        }
        putc_unlocked('\n', f);
        break;
    case SC_TSV:
        sc_tsv(f, url, strlen(url));
        fprintf(f, "\t%zu", s->ovector[0]);
        for (int i = 0; i < o->ncols; i++) {
            putc_unlocked('\t', f);
            if (netsrv_regex_span(s, o->cols[i], &st, &n))
                sc_tsv(f, s->subject + st, n);
        }
        putc_unlocked('\n', f);
        break;
    default:
        fputs("{\"url\":", f);
        nt_json_string(f, url, strlen(url));
        fprintf(f, ",\"offset\":%zu,\"match\":", s->ovector[0]);
        netsrv_regex_span(s, 0, &st, &n);
        nt_json_string(f, s->subject + st, n);
        fputs(",\"groups\":{", f);
        if (o->ncols == 1 && o->cols[0] == 0 && !o->names[0]) {
            /* No -g: every group, by name when it has one, else number. */
            for (int g = 1; g <= netsrv_regex_groups(o->re); g++) {
                const char *nm = netsrv_regex_group_name(o->re, g);

                snprintf(name, sizeof name, "%d", g);
                if (g > 1)
                    putc_unlocked(',', f);
                nt_json_string(f, nm ? nm : name, strlen(nm ? nm : name));
                putc_unlocked(':', f);
                if (netsrv_regex_span(s, g, &st, &n))
                    nt_json_string(f, s->subject + st, n);
                else
                    fputs("null", f);
            }
        } else {
            for (int i = 0; i < o->ncols; i++) {
                sc_col_name(o, i, name, sizeof name);
                if (i > 0)
                    putc_unlocked(',', f);
                nt_json_string(f, name, strlen(name));
                putc_unlocked(':', f);
                if (netsrv_regex_span(s, o->cols[i], &st, &n))
                    nt_json_string(f, s->subject + st, n);
                else
                    fputs("null", f);
            }
        }
        fputs("}}\n", f);
        break;
    }
    return 0;
}

int sc_out_finish(struct sc_out *o)
{
    struct sc_db *d = o->db;

    if (o->count)
        printf("%llu\n", o->matches);
    if (d) {
        sqlite3_finalize(d->ins);
        if (sqlite3_close(d->db) != SQLITE_OK)
            o->failed = 1;
        free(d);
        o->db = NULL;
    }
    sc_set_free(o->seen);
    o->seen = NULL;
    if (fflush(stdout) != 0 && !o->failed) {
        nt_error("standard output: %s", strerror(errno));
        o->failed = 1;
    }
    return o->failed ? -1 : 0;
}
