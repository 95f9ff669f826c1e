/* robots.c - robots.txt as RFC 9309 reads it: the groups for our product
 * token (else those for "*"), their Allow and Disallow rules with '*' and
 * '$', the longest match deciding (Allow on a tie), and the Crawl-delay
 * many sites add.  A crawler asks before each fetch.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netsrv.h"

struct robots_rule {
    char *pat;
    size_t len;
    int allow;
};

struct netsrv_robots {
    struct robots_rule *rules;
    size_t n, cap;
    double delay;
};

/* One line's field and value, without comments and surrounding blanks. */
static int robots_line(const char *s, size_t len, const char **f, size_t *fl, const char **v,
                       size_t *vl)
{
    const char *hash = memchr(s, '#', len), *colon;

    if (hash)
        len = (size_t)(hash - s);
    if (!(colon = memchr(s, ':', len)))
        return 0;
    *f = s;
    *fl = (size_t)(colon - s);
    while (*fl > 0 && (s[*fl - 1] == ' ' || s[*fl - 1] == '\t'))
        (*fl)--;
    while (*fl > 0 && (**f == ' ' || **f == '\t')) {
        (*f)++;
        (*fl)--;
    }
    *v = colon + 1;
    *vl = len - (size_t)(colon + 1 - s);
    while (*vl > 0 && (**v == ' ' || **v == '\t')) {
        (*v)++;
        (*vl)--;
    }
    while (*vl > 0 && ((*v)[*vl - 1] == ' ' || (*v)[*vl - 1] == '\t' || (*v)[*vl - 1] == '\r'))
        (*vl)--;
    return 1;
}

static int robots_is(const char *f, size_t fl, const char *name)
{
    return fl == strlen(name) && strncasecmp(f, name, fl) == 0;
}

/* Does the User-agent value v name our agent?  Its product token (up to
 * a '/' or blank) against ours, any case. */
static int robots_agent_is(const char *v, size_t vl, const char *agent)
{
    size_t n = 0, an = 0;

    while (n < vl && v[n] != '/' && v[n] != ' ' && v[n] != '\t')
        n++;
    while (agent[an] && agent[an] != '/' && agent[an] != ' ')
        an++;
    return n > 0 && n == an && strncasecmp(v, agent, n) == 0;
}

static int robots_add(netsrv_robots *r, const char *v, size_t vl, int allow)
{
    struct robots_rule *nr;

    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;

        if (!(nr = realloc(r->rules, cap * sizeof *nr)))
            return -ENOMEM;
        r->rules = nr;
        r->cap = cap;
    }
    if (!(r->rules[r->n].pat = malloc(vl + 1)))
        return -ENOMEM;
    memcpy(r->rules[r->n].pat, v, vl);
    r->rules[r->n].pat[vl] = '\0';
    r->rules[r->n].len = vl;
    r->rules[r->n].allow = allow;
    r->n++;
    return 0;
}

/* Two passes: which groups are ours (pass 0 looks for our token, and
 * says whether it was there), then the rules of those groups. */
static int robots_pass(netsrv_robots *r, const char *text, size_t len, const char *agent,
                       int want_star, int collect)
{
    const char *p = text, *end = text + len;
    int in_agents = 0, ours = 0, found = 0, rc;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *f, *v;
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p), fl, vl;

        if (robots_line(p, ll, &f, &fl, &v, &vl)) {
            if (robots_is(f, fl, "user-agent")) {
                /* Several User-agent lines in a row share one group. */
                if (!in_agents)
                    ours = 0;
                in_agents = 1;
                if (want_star ? (vl == 1 && v[0] == '*') : robots_agent_is(v, vl, agent))
                    ours = found = 1;
            } else {
                in_agents = 0;
                if (ours && collect) {
                    if (robots_is(f, fl, "disallow") && vl > 0) {
                        if ((rc = robots_add(r, v, vl, 0)) < 0)
                            return rc;
                    } else if (robots_is(f, fl, "allow") && vl > 0) {
                        if ((rc = robots_add(r, v, vl, 1)) < 0)
                            return rc;
                    } else if (robots_is(f, fl, "crawl-delay") && r->delay < 0) {
                        char num[32];
                        double d;

                        if (vl < sizeof num) {
                            memcpy(num, v, vl);
                            num[vl] = '\0';
                            d = strtod(num, NULL);
                            if (d >= 0)
                                r->delay = d;
                        }
                    }
                }
            }
        }
        p = nl ? nl + 1 : end;
    }
    return found;
}

int netsrv_robots_new(netsrv_robots **out, const char *text, size_t len, const char *agent)
{
    netsrv_robots *r = calloc(1, sizeof *r);
    int rc;

    *out = NULL;
    if (!r)
        return -ENOMEM;
    r->delay = -1;
    if (text && len > 0) {
        rc = robots_pass(r, text, len, agent, 0, 0);
        if (rc >= 0)
            rc = robots_pass(r, text, len, agent, rc == 0, 1);
        if (rc < 0) {
            netsrv_robots_free(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

void netsrv_robots_free(netsrv_robots *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->rules[i].pat);
    free(r->rules);
    free(r);
}

double netsrv_robots_delay(const netsrv_robots *r)
{
    return r->delay;
}

/* Does pattern p[0..pl) ('*' any run, a final '$' the end) match the
 * start of s[0..sl)?  Greedy with one backtrack point, as glob matchers. */
static int robots_match(const char *p, size_t pl, const char *s, size_t sl)
{
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    int anchored = pl > 0 && p[pl - 1] == '$';

    if (anchored)
        pl--;
    for (;;) {
        if (pi == pl) {
            if (!anchored || si == sl)
                return 1;
        } else if (p[pi] == '*') {
            star_p = pi++;
            star_s = si;
            continue;
        } else if (si < sl && p[pi] == s[si]) {
            pi++;
            si++;
            continue;
        }
        if (star_p == (size_t)-1 || star_s >= sl)
            return 0;
        pi = star_p + 1;
        si = ++star_s;
    }
}

int netsrv_robots_allowed(const netsrv_robots *r, const char *target, size_t len)
{
    size_t best = 0;
    int allow = 1, any = 0;

    if (len == 11 && memcmp(target, "/robots.txt", 11) == 0)
        return 1;
    for (size_t i = 0; i < r->n; i++) {
        const struct robots_rule *ru = &r->rules[i];

        if (!robots_match(ru->pat, ru->len, target, len))
            continue;
        if (!any || ru->len > best || (ru->len == best && ru->allow)) {
            best = ru->len;
            allow = ru->allow;
            any = 1;
        }
    }
    return allow;
}
