/* drift.c: drift statistics of CSV columns (csvfile.c reads them). */
#include "drift.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define FLOOR 0.0001

/* Statistics. */

/* Sort doubles (no NaNs) with an LSD radix sort on their bits, mapped so
 * unsigned order is numeric order: several times faster than qsort on a
 * million values. */
static void sort_doubles(double *v, size_t n)
{
    uint64_t *a = kiln_malloc(n * sizeof(uint64_t) + 1);
    uint64_t *b = kiln_malloc(n * sizeof(uint64_t) + 1);
    enum { BITS = 11, BUCKETS = 1 << BITS };
    size_t count[BUCKETS];
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], sizeof(u));
        a[i] = u >> 63 ? ~u : u | (1ULL << 63);
    }
    for (int shift = 0; shift < 64; shift += BITS) {
        size_t sum = 0;
        memset(count, 0, sizeof(count));
        for (size_t i = 0; i < n; i++)
            count[(a[i] >> shift) & (BUCKETS - 1)]++;
        for (size_t k = 0; k < BUCKETS; k++) {
            size_t c = count[k];
            count[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            b[count[(a[i] >> shift) & (BUCKETS - 1)]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t u = a[i] >> 63 ? a[i] & ~(1ULL << 63) : ~a[i];
        memcpy(&v[i], &u, sizeof(u));
    }
    free(a);
    free(b);
}

/* numpy's default quantile: linear interpolation between order stats. */
static double quantile(const double *v, size_t n, double p)
{
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    double frac = pos - (double)lo;
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (v[lo + 1] - v[lo]) * frac;
}

/* How many of the n sorted values are <= x. */
static size_t count_le(const double *v, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* psi and js of two distributions of k bins (fractions, floored). */
static void psi_js(double *psi, double *js, const double *r, const double *c,
                   size_t k)
{
    double sr = 0, sc = 0, d = 0;
    *psi = 0;
    for (size_t i = 0; i < k; i++) {
        *psi += (c[i] - r[i]) * log(c[i] / r[i]);
        sr += r[i];
        sc += c[i];
    }
    /* Jensen-Shannon on the normalised distributions, base 2 (as
     * scipy.spatial.distance.jensenshannon). */
    for (size_t i = 0; i < k; i++) {
        double p = r[i] / sr, q = c[i] / sc, m = (p + q) / 2;
        d += 0.5 * p * log2(p / m) + 0.5 * q * log2(q / m);
    }
    *js = sqrt(d > 0 ? d : 0);
}

/* The Kolmogorov distribution's survival function (scipy.special
 * kolmogorov, i.e. kstwobign.sf). */
static double kolmogorov_sf(double x)
{
    double sum = 0;
    if (x <= 0)
        return 1;
    if (x < 1) {
        /* cdf = sqrt(2 pi) / x * sum exp(-(2k-1)^2 pi^2 / (8 x^2)) */
        for (int k = 1; k < 100; k++) {
            double t = exp(-(2.0 * k - 1) * (2.0 * k - 1) * M_PI * M_PI /
                           (8 * x * x));
            sum += t;
            if (t < 1e-300)
                break;
        }
        sum = 1 - sqrt(2 * M_PI) / x * sum;
    } else {
        for (int k = 1; k < 100; k++) {
            double t = exp(-2.0 * k * k * x * x);
            sum += (k % 2 ? 2 : -2) * t;
            if (t < 1e-300)
                break;
        }
    }
    return sum < 0 ? 0 : sum > 1 ? 1 : sum;
}

static void numeric_stats(kiln_drift_stats *s, double *r, size_t nr,
                          double *c, size_t nc)
{
    double edges[9], rf[10], cf[10], d = 0, w = 0;
    size_t k = 0, i, j;

    sort_doubles(r, nr);
    sort_doubles(c, nc);
    for (i = 1; i <= 9; i++) {
        double e = quantile(r, nr, (double)i / 10);
        if (k == 0 || e > edges[k - 1])
            edges[k++] = e;
    }
    for (i = 0; i <= k; i++) {
        size_t rlo = i ? count_le(r, nr, edges[i - 1]) : 0;
        size_t rhi = i < k ? count_le(r, nr, edges[i]) : nr;
        size_t clo = i ? count_le(c, nc, edges[i - 1]) : 0;
        size_t chi = i < k ? count_le(c, nc, edges[i]) : nc;
        rf[i] = fmax((double)(rhi - rlo) / (double)nr, FLOOR);
        cf[i] = fmax((double)(chi - clo) / (double)nc, FLOOR);
    }
    psi_js(&s->psi, &s->js, rf, cf, k + 1);

    /* KS and Wasserstein: walk both sorted samples together. */
    i = j = 0;
    while (i < nr || j < nc) {
        double x = i < nr && (j >= nc || r[i] <= c[j]) ? r[i] : c[j], next;
        while (i < nr && r[i] == x)
            i++;
        while (j < nc && c[j] == x)
            j++;
        double diff = fabs((double)i / (double)nr - (double)j / (double)nc);
        if (diff > d)
            d = diff;
        if (i < nr || j < nc) {
            next = i < nr && (j >= nc || r[i] <= c[j]) ? r[i] : c[j];
            w += diff * (next - x);
        }
    }
    s->ks = d;
    s->ks_pvalue = kolmogorov_sf(sqrt((double)nr * (double)nc /
                                      (double)(nr + nc)) * d);
    s->wasserstein = w;
}

/* A column's categories as (name, count) pairs, sorted by name, with
 * equal names merged. */
typedef struct catlist {
    size_t n;
    char **names;       /* owned when owned is true */
    size_t *counts;
    bool owned;
} catlist;

static int cmp_cat(const void *a, const void *b, void *arg)
{
    char *const *names = arg;
    return strcmp(names[*(const size_t *)a], names[*(const size_t *)b]);
}

/* Sort l by name and merge duplicates (which canonical numbers make). */
static void catlist_sort(catlist *l)
{
    size_t *idx = kiln_calloc(l->n ? l->n : 1, sizeof(size_t)), m = 0;
    char **names = kiln_calloc(l->n ? l->n : 1, sizeof(char *));
    size_t *counts = kiln_calloc(l->n ? l->n : 1, sizeof(size_t));
    for (size_t i = 0; i < l->n; i++)
        idx[i] = i;
    qsort_r(idx, l->n, sizeof(size_t), cmp_cat, l->names);
    for (size_t i = 0; i < l->n; i++) {
        char *name = l->names[idx[i]];
        if (m && strcmp(names[m - 1], name) == 0) {
            counts[m - 1] += l->counts[idx[i]];
            if (l->owned)
                free(name);
            continue;
        }
        names[m] = name;
        counts[m++] = l->counts[idx[i]];
    }
    if (l->owned) {
        free(l->names);
        free(l->counts);
    }
    free(idx);
    l->names = names;
    l->counts = counts;
    l->n = m;
    l->owned = true; /* the arrays now are, the names as before */
}

/* The categories of column c. With canonical, numbers are written one way
 * (%.17g), so a numeric column and a categorical one that holds numbers
 * agree on what "1" and "1.0" are. */
static void catlist_of(catlist *l, const kiln_csv_column *c, bool canonical)
{
    char buf[40];
    memset(l, 0, sizeof(*l));
    if (c->numeric) {
        double *v = kiln_calloc(c->n ? c->n : 1, sizeof(double));
        if (c->n)
            memcpy(v, c->values, c->n * sizeof(double));
        sort_doubles(v, c->n);
        l->names = kiln_calloc(c->n ? c->n : 1, sizeof(char *));
        l->counts = kiln_calloc(c->n ? c->n : 1, sizeof(size_t));
        l->owned = true;
        for (size_t i = 0; i < c->n; i++) {
            if (l->n && v[i] == v[i - 1]) {
                l->counts[l->n - 1]++;
                continue;
            }
            snprintf(buf, sizeof(buf), "%.17g", v[i]);
            l->names[l->n] = kiln_strdup(buf);
            l->counts[l->n++] = 1;
        }
        free(v);
        return;
    }
    l->n = c->n_cats;
    l->counts = kiln_calloc(c->n_cats ? c->n_cats : 1, sizeof(size_t));
    l->names = kiln_calloc(c->n_cats ? c->n_cats : 1, sizeof(char *));
    l->owned = true;
    for (size_t i = 0; i < c->n_cats; i++) {
        double x;
        l->counts[i] = c->counts[i];
        if (canonical &&
            kiln_csv_number(&x, c->cats[i], strlen(c->cats[i]))) {
            snprintf(buf, sizeof(buf), "%.17g", x);
            l->names[i] = kiln_strdup(buf);
        } else {
            l->names[i] = kiln_strdup(c->cats[i]);
        }
    }
}

static void catlist_dispose(catlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->counts);
}

/* PSI and JS over the union of categories: both lists sorted, then
 * merged (linear, whatever the number of categories). */
static void categorical_stats(kiln_drift_stats *s, kiln_csv_column *ref,
                              kiln_csv_column *cur, bool canonical)
{
    catlist a, b;
    size_t i = 0, j = 0, n = 0, k;
    double *r, *c;

    catlist_of(&a, ref, canonical);
    catlist_of(&b, cur, canonical);
    catlist_sort(&a);
    catlist_sort(&b);
    k = a.n + b.n;
    r = kiln_calloc(k ? k : 1, sizeof(double));
    c = kiln_calloc(k ? k : 1, sizeof(double));
    while (i < a.n || j < b.n) {
        int d = i == a.n ? 1 : j == b.n ? -1
                                        : strcmp(a.names[i], b.names[j]);
        if (d <= 0)
            r[n] = (double)a.counts[i++];
        if (d >= 0)
            c[n] = (double)b.counts[j++];
        n++;
    }
    for (i = 0; i < n; i++) {
        r[i] = fmax(r[i] / (double)(ref->n ? ref->n : 1), FLOOR);
        c[i] = fmax(c[i] / (double)(cur->n ? cur->n : 1), FLOOR);
    }
    psi_js(&s->psi, &s->js, r, c, n);
    free(r);
    free(c);
    catlist_dispose(&a);
    catlist_dispose(&b);
}

void kiln_drift_compare(kiln_drift_stats *out, kiln_csv_column *ref,
                        size_t ref_rows, kiln_csv_column *cur,
                        size_t cur_rows)
{
    memset(out, 0, sizeof(*out));
    out->numeric = ref->numeric && cur->numeric && ref->n && cur->n;
    out->n_ref = ref->n;
    out->n_cur = cur->n;
    out->missing_ref = ref_rows ? (double)ref->missing / (double)ref_rows : 0;
    out->missing_cur = cur_rows ? (double)cur->missing / (double)cur_rows : 0;
    out->ks = out->ks_pvalue = out->wasserstein = NAN;
    if (out->numeric) {
        numeric_stats(out, ref->values, ref->n, cur->values, cur->n);
    } else {
        /* One side numbers and the other not: both as categories, numbers
         * by value. */
        categorical_stats(out, ref, cur, ref->numeric != cur->numeric);
    }
}

int kiln_drift_decide(bool *out, const kiln_drift_stats *s,
                      const char *method, double threshold, kiln_err *err)
{
    double v;
    if (strcmp(method, "psi") == 0)
        v = s->psi;
    else if (strcmp(method, "js") == 0)
        v = s->js;
    else if (strcmp(method, "ks") == 0)
        v = s->ks_pvalue;
    else if (strcmp(method, "wasserstein") == 0)
        v = s->wasserstein;
    else
        return kiln_err_set(err, KILN_EINVAL, "unknown drift method \"%s\" "
                            "(psi, js, ks or wasserstein)", method);
    if (isnan(v)) {
        *out = false;
        return KILN_EINVAL;
    }
    *out = strcmp(method, "ks") == 0 ? v < threshold : v > threshold;
    return 0;
}

/* Whole reports. */

/* Loading the reference on a thread of its own while the current file
 * loads: the two parses are independent. */
typedef struct load_job {
    kiln_csv_table *t;
    const char *path;
    kiln_err err;
    int rc;
} load_job;

static void load_thread(void *arg)
{
    load_job *j = arg;
    j->rc = kiln_csv_load(j->t, j->path, &j->err);
}

/* Comparing columns: the odd ones on a second thread (each column's sorts
 * are independent). */
typedef struct compare_job {
    kiln_csv_table *ref, *cur;
    kiln_csv_column **pairs;  /* ref, cur, ref, cur... NULL: skip */
    kiln_drift_stats *stats;
    size_t n, first;
} compare_job;

static void compare_thread(void *arg)
{
    compare_job *j = arg;
    for (size_t i = j->first; i < j->n; i += 2)
        if (j->pairs[2 * i])
            kiln_drift_compare(&j->stats[i], j->pairs[2 * i],
                               j->ref->n_rows, j->pairs[2 * i + 1],
                               j->cur->n_rows);
}

static json_t *num(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

int kiln_drift_report(json_t **out, size_t *n_drifted, const char *ref_path,
                      const char *cur_path, const char *const *columns,
                      size_t n_columns, const char *method, double threshold,
                      kiln_err *err)
{
    kiln_csv_table ref, cur;
    kiln_drift_stats *stats = NULL;
    kiln_csv_column **pairs = NULL;
    json_t *cols = NULL;
    size_t drifted = 0;
    int rc;

    *out = NULL;
    memset(&ref, 0, sizeof(ref));
    memset(&cur, 0, sizeof(cur));
    {
        load_job j = {&ref, ref_path, KILN_ERR_INIT, 0};
        uv_thread_t tid;
        bool threaded = uv_thread_create(&tid, load_thread, &j) == 0;
        if (!threaded)
            load_thread(&j);
        rc = kiln_csv_load(&cur, cur_path, err);
        if (threaded)
            uv_thread_join(&tid);
        if (j.rc != 0) {
            *err = j.err;
            rc = j.rc;
        }
        if (rc != 0)
            goto done;
    }
    for (size_t k = 0; k < n_columns; k++) {
        if (!kiln_csv_column_find(&ref, columns[k]) ||
            !kiln_csv_column_find(&cur, columns[k])) {
            rc = kiln_err_set(err, KILN_EINVAL, "column \"%s\" is not in "
                              "both files", columns[k]);
            goto done;
        }
    }
    {
        compare_job jobs[2];
        uv_thread_t tid;
        pairs = kiln_calloc(2 * ref.n_cols + 2, sizeof(*pairs));
        stats = kiln_calloc(ref.n_cols + 1, sizeof(*stats));
        for (size_t i = 0; i < ref.n_cols; i++) {
            bool wanted = n_columns == 0;
            for (size_t k = 0; k < n_columns; k++)
                wanted |= strcmp(columns[k], ref.cols[i].name) == 0;
            pairs[2 * i + 1] = kiln_csv_column_find(&cur, ref.cols[i].name);
            if (wanted && pairs[2 * i + 1])
                pairs[2 * i] = &ref.cols[i];
        }
        for (int t = 0; t < 2; t++) {
            jobs[t].ref = &ref;
            jobs[t].cur = &cur;
            jobs[t].pairs = pairs;
            jobs[t].stats = stats;
            jobs[t].n = ref.n_cols;
            jobs[t].first = (size_t)t;
        }
        if (uv_thread_create(&tid, compare_thread, &jobs[1]) == 0) {
            compare_thread(&jobs[0]);
            uv_thread_join(&tid);
        } else {
            compare_thread(&jobs[0]);
            compare_thread(&jobs[1]);
        }
    }
    cols = json_array();
    for (size_t i = 0; i < ref.n_cols; i++) {
        kiln_drift_stats s = stats[i];
        bool drift = false;
        if (!pairs[2 * i])
            continue; /* not compared */
        kiln_drift_decide(&drift, &s, method, threshold, NULL);
        drifted += drift;
        json_array_append_new(cols, json_pack(
            "{s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
            "name", ref.cols[i].name, "type",
            s.numeric ? "numeric" : "categorical",
            "n_reference", (json_int_t)s.n_ref, "n_current",
            (json_int_t)s.n_cur, "missing_reference", num(s.missing_ref),
            "missing_current", num(s.missing_cur), "psi", num(s.psi), "js",
            num(s.js), "ks", num(s.ks), "ks_pvalue", num(s.ks_pvalue),
            "wasserstein", num(s.wasserstein), "drift", drift));
    }
    *out = json_pack("{s:o}", "columns", cols);
    if (n_drifted)
        *n_drifted = drifted;
done:
    free(pairs);
    free(stats);
    kiln_csv_table_dispose(&ref);
    kiln_csv_table_dispose(&cur);
    return rc;
}
