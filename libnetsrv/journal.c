/* journal.c - a record of finished work that outlives the process doing
 * it: keys (a path, a URL) with a small stamp saying for what state of
 * the input the work was done.  SQLite keeps it (WAL, synchronous=NORMAL):
 * what netsrv_journal_commit committed survives kill -9 of the writer;
 * what it had not is gone as a whole.  One writer at a time is assumed
 * (a second one waits up to 5 s for the lock, then gets -EBUSY).
 */
#include "config.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsrv.h"

struct netsrv_journal {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *put, *get, *count;
    int in_tx;
};

/* An SQLite result code as an errno, the message into err. */
static int jn_err(sqlite3 *db, int rc, const char *what, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
        return -EACCES;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return -EINVAL;
    default:
        return -EIO;
    }
}

/* 1 when db is empty or holds a journal's table alone (key, the primary
 * key, and stamp), 0 when it holds anything else; a negative SQLite code
 * when it cannot be read (not a database, cut short).  Only reads: what
 * is not a journal is left as it was. */
static int jn_is_journal(sqlite3 *db)
{
    sqlite3_stmt *st;
    int rc, others, cols = 0, fits = 1;

    rc = sqlite3_prepare_v2(db,
                            "SELECT count(*) FROM sqlite_master"
                            " WHERE NOT (type = 'table' AND name = 'done')",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return -rc;
    rc = sqlite3_step(st);
    others = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return -rc;
    if (others)
        return 0;
    /* (PRAGMA table_info, not pragma_table_info(): SQLite before 3.16.) */
    if ((rc = sqlite3_prepare_v2(db, "PRAGMA table_info(done)", -1, &st, NULL)) != SQLITE_OK)
        return -rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        int pk = sqlite3_column_int(st, 5);
        cols++;
        if (!name || !((strcmp(name, "key") == 0 && pk == 1) ||
                       (strcmp(name, "stamp") == 0 && pk == 0)))
            fits = 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -rc;
    return cols == 0 || (cols == 2 && fits);
}

int netsrv_journal_open(netsrv_journal **out, const char *path, char *err, size_t errlen)
{
    netsrv_journal *j;
    int rc;

    *out = NULL;
    /* A journal is written to: a symbolic link in its place, in a
     * directory others can write to (a copy's destination), would send
     * those writes anywhere.  (Links higher up the path are the caller's
     * choice of place, and followed.) */
    struct stat lst;
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: a symbolic link (not followed)", path);
        return -ELOOP;
    }
    if (!(j = calloc(1, sizeof *j)) || !(j->path = strdup(path))) {
        free(j);
        return -ENOMEM;
    }
    rc = sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(j->db, 5000);
    /* Looked at before anything is written (the PRAGMA below changes the
     * file's header): another program's database stays untouched. */
    int mine = jn_is_journal(j->db);
    if (mine < 0) {
        rc = -mine;
        goto fail;
    }
    if (mine == 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: an SQLite database, but not a journal", path);
        netsrv_journal_close(j);
        return -EINVAL;
    }
    /* WAL without fsync: a commit is one write(2) into the WAL, which the
     * kernel keeps when the process dies, kill -9 included.  A power cut
     * may lose the last commits, as it may lose the unsynced work they
     * record; SQLite's WAL checksums then drop the torn tail, never a
     * committed transaction's middle. */
    rc = sqlite3_exec(j->db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
                      "CREATE TABLE IF NOT EXISTS done(key TEXT PRIMARY KEY, stamp BLOB)"
                      " WITHOUT ROWID;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    if ((rc = sqlite3_prepare_v2(j->db, "INSERT OR REPLACE INTO done(key, stamp) VALUES(?1, ?2)",
                                 -1, &j->put, NULL)) != SQLITE_OK ||
        (rc = sqlite3_prepare_v2(j->db, "SELECT stamp FROM done WHERE key=?1", -1, &j->get,
                                 NULL)) != SQLITE_OK ||
        (rc = sqlite3_prepare_v2(j->db, "SELECT count(*) FROM done", -1, &j->count, NULL)) !=
            SQLITE_OK)
        goto fail;
    *out = j;
    return 0;
fail:
    rc = jn_err(j->db, rc, path, err, errlen);
    netsrv_journal_close(j);
    return rc;
}

int netsrv_journal_put(netsrv_journal *j, const char *key, size_t keylen, const void *stamp,
                       size_t len)
{
    int rc;

    if (!j->in_tx) {
        if ((rc = sqlite3_exec(j->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
            return jn_err(j->db, rc, "begin", NULL, 0);
        j->in_tx = 1;
    }
    sqlite3_bind_text(j->put, 1, key, (int)keylen, SQLITE_STATIC);
    sqlite3_bind_blob(j->put, 2, stamp, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(j->put);
    sqlite3_reset(j->put);
    sqlite3_clear_bindings(j->put);
    return rc == SQLITE_DONE ? 0 : jn_err(j->db, rc, "put", NULL, 0);
}

int netsrv_journal_commit(netsrv_journal *j)
{
    if (!j->in_tx)
        return 0;
    int rc = sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        /* A failed COMMIT (a full disk) leaves the transaction open:
         * drop it, so the journal holds only what is known written. */
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        j->in_tx = 0;
        return jn_err(j->db, rc, "commit", NULL, 0);
    }
    j->in_tx = 0;
    return 0;
}

ssize_t netsrv_journal_get(netsrv_journal *j, const char *key, size_t keylen, void *stamp,
                           size_t cap)
{
    ssize_t n = 0;

    sqlite3_bind_text(j->get, 1, key, (int)keylen, SQLITE_STATIC);
    int rc = sqlite3_step(j->get);
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(j->get, 0);
        size_t len = (size_t)sqlite3_column_bytes(j->get, 0);
        if (b && cap)
            memcpy(stamp, b, len < cap ? len : cap);
        n = (ssize_t)len;
    } else if (rc == SQLITE_DONE) {
        n = -ENOENT;
    } else {
        n = jn_err(j->db, rc, "get", NULL, 0);
    }
    sqlite3_reset(j->get);
    sqlite3_clear_bindings(j->get);
    return n;
}

long long netsrv_journal_count(netsrv_journal *j)
{
    long long n;
    int rc = sqlite3_step(j->count);

    n = rc == SQLITE_ROW ? sqlite3_column_int64(j->count, 0) : jn_err(j->db, rc, "count", NULL, 0);
    sqlite3_reset(j->count);
    return n;
}

void netsrv_journal_close(netsrv_journal *j)
{
    if (!j)
        return;
    /* What was not committed is dropped, as a crash would drop it. */
    if (j->in_tx)
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(j->put);
    sqlite3_finalize(j->get);
    sqlite3_finalize(j->count);
    sqlite3_close(j->db);
    free(j->path);
    free(j);
}

int netsrv_journal_discard(netsrv_journal *j)
{
    if (!j)
        return 0;
    /* Its work is done: copying the WAL into the database first, as a
     * close does, would be writing what is about to be removed. */
    sqlite3_db_config(j->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    char *path = j->path;
    j->path = NULL;
    netsrv_journal_close(j);
    int rc = netsrv_journal_unlink(path);
    free(path);
    return rc;
}

int netsrv_journal_unlink(const char *path)
{
    static const char *const tails[] = { "-wal", "-shm", "-journal", "" };
    size_t n = strlen(path);
    char *p = malloc(n + 16);
    int rc = 0;

    if (!p)
        return -ENOMEM;
    /* The database last: while it is there the others still belong to it. */
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        memcpy(p, path, n);
        strcpy(p + n, tails[i]);
        if (unlink(p) < 0 && errno != ENOENT && rc == 0)
            rc = -errno;
    }
    free(p);
    return rc;
}
