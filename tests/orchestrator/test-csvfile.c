/* test-csvfile.c: CSV records, their line numbers, malformed files, and
 * tables of columns read from them. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kiln_test.h"
#include "data/csvfile.h"

static char dir[] = "/tmp/kiln-test-csvfile.XXXXXX";

static char *write_file(const char *name, const char *text)
{
    char *path = kiln_path_join(dir, name);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Every record as "LINE:field|field" lines. */
static int on_record(const kiln_csv_record *rec, void *data)
{
    kiln_buf *b = data;
    kiln_buf_printf(b, "%zu:", rec->line);
    for (size_t i = 0; i < rec->n; i++) {
        ASSERT_EQ_INT(strlen(rec->fields[i]), rec->lens[i]);
        kiln_buf_printf(b, "%s%s", i ? "|" : "", rec->fields[i]);
    }
    kiln_buf_puts(b, "\n");
    return 0;
}

static int count_record(const kiln_csv_record *rec, void *data)
{
    (void)rec;
    (*(size_t *)data)++;
    return 0;
}

/* Read text as records and as a table: a malformed file must be the same
 * error, with the same message, both ways. want is the records as
 * on_record writes them, or the message after the file's path. */
static void expect(const char *text, int want_rc, const char *want)
{
    char *path = write_file("t.csv", text);
    kiln_buf b = KILN_BUF_INIT;
    kiln_err err = KILN_ERR_INIT, terr = KILN_ERR_INIT;
    kiln_csv_table t;
    size_t records = 0;
    int rc = kiln_csv_read(path, on_record, &b, &err);
    int trc = kiln_csv_load(&t, path, &terr);
    ASSERT_EQ_INT(rc, want_rc);
    if (rc == 0) {
        ASSERT_STREQ(kiln_buf_cstr(&b), want);
        /* Records after the header are the table's rows (a header alone
         * is an error of its own, see test_empty). */
        ASSERT_EQ_INT(kiln_csv_read(path, count_record, &records, &err), 0);
        ASSERT_EQ_INT(trc, records > 1 ? 0 : KILN_EINVAL);
        if (trc == 0)
            ASSERT_EQ_INT(t.n_rows, records - 1);
    } else {
        /* The message names the file, then the line. */
        ASSERT(strncmp(err.msg, path, strlen(path)) == 0);
        ASSERT_STREQ(err.msg + strlen(path), want);
        ASSERT_EQ_INT(trc, rc);
        ASSERT_STREQ(terr.msg, err.msg);
    }
    kiln_csv_table_dispose(&t);
    kiln_buf_dispose(&b);
    unlink(path);
    free(path);
}

static void test_lines(void)
{
    expect("a,b\n1,2\n3,4\n", 0, "1:a|b\n2:1|2\n3:3|4\n");
    /* No newline at the end; CRLF; a byte order mark. */
    expect("\xef\xbb\xbf" "a,b\r\n1,2\r\n3,4", 0, "1:a|b\n2:1|2\n3:3|4\n");
    /* Blank lines are skipped but counted. */
    expect("a,b\n\n1,2\n\n\n3,4\n\n", 0, "1:a|b\n3:1|2\n6:3|4\n");
    /* A quoted field spanning lines: the record starts on its first. */
    expect("a,b\n1,\"x\ny\nz\"\n2,3\n\"p\nq\",4\n", 0,
           "1:a|b\n2:1|x\ny\nz\n5:2|3\n6:p\nq|4\n");
    expect("a,b\n\"1,\"\"x\"\"\",\n", 0, "1:a|b\n2:1,\"x\"|\n");
    expect("name\n", 0, "1:name\n");
    /* CRLF inside a quoted field: a newline of the field, and a line of
     * the file. */
    expect("a,b\r\n1,\"x\r\ny\"\r\n2,3\r\n", 0,
           "1:a|b\n2:1|x\r\ny\n4:2|3\n");
}

static void test_malformed(void)
{
    expect("", KILN_EINVAL, ": line 1: expected a header row naming the "
           "columns");
    expect("a,b\n1,2\n3\n", KILN_EINVAL, ": line 3: expected 2 fields as "
           "in the header, got 1");
    expect("a,b\n1,\"x\ny\"\n4,5,6\n", KILN_EINVAL, ": line 4: expected 2 "
           "fields as in the header, got 3");
    expect("a,b\n1,2\n3,\"4\n5,6\n", KILN_EINVAL, ": line 3: a quoted field "
           "is not closed before the end of the file");
    expect("a,b\n1,2\n\"3\n", KILN_EINVAL, ": line 3: a quoted field is not "
           "closed before the end of the file");
    expect("a,b\n1,2\n3,4\"x\n", KILN_EINVAL, ": line 3: malformed CSV (a "
           "quote inside an unquoted field, or text after a closing "
           "quote)");
    expect("a,b\n1,\"2\"x\n", KILN_EINVAL, ": line 2: malformed CSV (a "
           "quote inside an unquoted field, or text after a closing "
           "quote)");
    /* The quote opens on line 2, whatever follows it. */
    expect("a,b\n1,\"2\n3,4\n5,6\n", KILN_EINVAL, ": line 2: a quoted "
           "field is not closed before the end of the file");
    /* CRLF, and quoted fields spanning lines, before the fault. */
    expect("a,b\r\n1,\"x\r\ny\"\r\n2,3\r\n4\r\n", KILN_EINVAL,
           ": line 5: expected 2 fields as in the header, got 1");
    expect("a,b\r\n1,2\r\n3,\"4\r\n5,6\r\n", KILN_EINVAL, ": line 3: a "
           "quoted field is not closed before the end of the file");
    expect("a,b\n\"p\nq\nr\",1\n2,\"3\n4,5\n", KILN_EINVAL, ": line 5: "
           "a quoted field is not closed before the end of the file");
    expect("a,b\n\"p\nq\",\"x\n", KILN_EINVAL, ": line 3: a quoted field "
           "is not closed before the end of the file");
    expect("a,b\n\"p\nq\nr\",1\n2,3\"\n", KILN_EINVAL, ": line 5: "
           "malformed CSV (a quote inside an unquoted field, or text after "
           "a closing quote)");
}

/* No header: an empty file, blank lines, a byte order mark alone. */
static void test_no_header(void)
{
    expect("", KILN_EINVAL, ": line 1: expected a header row naming the "
           "columns");
    expect("\n\r\n\n", KILN_EINVAL, ": line 1: expected a header row "
           "naming the columns");
    expect("\xef\xbb\xbf", KILN_EINVAL, ": line 1: expected a header row "
           "naming the columns, found only a byte order mark");
    expect("\xef\xbb\xbf\r\n", KILN_EINVAL, ": line 1: expected a header "
           "row naming the columns, found only a byte order mark");
    expect("\xef\xbb\xbf\n\n", KILN_EINVAL, ": line 1: expected a header "
           "row naming the columns, found only a byte order mark");
}

/* Headers kiln cannot tell columns apart in. */
static void test_header(void)
{
    /* A doubled byte order mark would become part of the first name. */
    expect("\xef\xbb\xbf\xef\xbb\xbf" "a,b\n1,2\n", KILN_EINVAL,
           ": line 1: more than one byte order mark before the first "
           "column name");
    expect("\xef\xbb\xbf\xef\xbb\xbf\xef\xbb\xbf" "a\n1\n", KILN_EINVAL,
           ": line 1: more than one byte order mark before the first "
           "column name");
    /* The mark is no part of the text: the first name may be quoted, or
     * on a later line. */
    expect("\xef\xbb\xbf\"a b\",c\n1,2\n", 0, "1:a b|c\n2:1|2\n");
    expect("\xef\xbb\xbf\na,b\n1,2\n", 0, "2:a|b\n3:1|2\n");
    /* A byte order mark anywhere else is the text's own. */
    expect("a,\xef\xbb\xbf" "b\n1,2\n", 0,
           "1:a|\xef\xbb\xbf" "b\n2:1|2\n");
    /* The first name written twice, reading left to right. */
    expect("a,b,a\n1,2,3\n", KILN_EINVAL, ": line 1: column \"a\" appears "
           "twice in the header (columns 1 and 3)");
    expect("\n\nx,b,a,b,a\n1,2,3,4,5\n", KILN_EINVAL, ": line 3: column "
           "\"b\" appears twice in the header (columns 2 and 4)");
    expect("\xef\xbb\xbf" "a,\"a\"\n1,2\n", KILN_EINVAL, ": line 1: "
           "column \"a\" appears twice in the header (columns 1 and 2)");
    /* Names differing in case are different names; unquoted ones lose
     * their outer spaces (as every unquoted field), quoted ones keep
     * them. */
    expect("a,A,\" a\"\n1,2,3\n", 0, "1:a|A| a\n2:1|2|3\n");
    expect("a, a \n1,2\n", KILN_EINVAL, ": line 1: column \"a\" appears "
           "twice in the header (columns 1 and 2)");
}

/* A header and no rows: data with 0 rows when read record by record
 * (validation counts them), an error for a table (drift has nothing to
 * compare), pointing at the line after the header. */
static void test_empty(void)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"a,b\n", ": line 2: no data rows after the header"},
        {"a,b", ": line 2: no data rows after the header"},
        {"a,b\r\n\r\n\n", ": line 2: no data rows after the header"},
        {"\xef\xbb\xbf" "a,\"b\nc\"\r\n", ": line 3: no data rows after "
         "the header"},
        {"\n\na\n", ": line 4: no data rows after the header"},
    };
    for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
        char *path = write_file("e.csv", cases[i].text);
        kiln_err err = KILN_ERR_INIT;
        kiln_csv_table t;
        size_t records = 0;
        ASSERT_EQ_INT(kiln_csv_read(path, count_record, &records, &err), 0);
        ASSERT_EQ_INT(records, 1);
        ASSERT_EQ_INT(kiln_csv_load(&t, path, &err), KILN_EINVAL);
        ASSERT(strncmp(err.msg, path, strlen(path)) == 0);
        ASSERT_STREQ(err.msg + strlen(path), cases[i].msg);
        ASSERT_EQ_INT(t.n_cols, 0);
        kiln_csv_table_dispose(&t);
        unlink(path);
        free(path);
    }
}

/* Columns: numbers, categories, a column that turns categorical after
 * numbers (read again), missing cells. */
static void test_table(void)
{
    char *path = write_file("tab.csv", "\xef\xbb\xbf" "n,c,m,\"q\r\nr\"\r\n"
                            "1,x,1,\r\n"
                            "2.5,y,2,\"p\nq\"\r\n"
                            ",x,oops,\r\n"
                            "-3,,4,z\r\n");
    kiln_err err = KILN_ERR_INIT;
    kiln_csv_table t;
    kiln_csv_column *c;
    ASSERT_EQ_INT(kiln_csv_load(&t, path, &err), 0);
    ASSERT_EQ_INT(t.n_cols, 4);
    ASSERT_EQ_INT(t.n_rows, 4);
    c = kiln_csv_column_find(&t, "n");
    ASSERT_NOT_NULL(c);
    ASSERT(c->numeric);
    ASSERT_EQ_INT(c->n, 3);
    ASSERT_EQ_INT(c->missing, 1);
    ASSERT(c->values[0] == 1 && c->values[1] == 2.5 && c->values[2] == -3);
    c = kiln_csv_column_find(&t, "c");
    ASSERT(!c->numeric);
    ASSERT_EQ_INT(c->n, 3);
    ASSERT_EQ_INT(c->n_cats, 2);
    ASSERT_EQ_INT(c->missing, 1);
    for (size_t k = 0; k < c->n_cats; k++)
        ASSERT_EQ_INT(c->counts[k], strcmp(c->cats[k], "x") == 0 ? 2 : 1);
    /* Two numbers, then text: every value a category. */
    c = kiln_csv_column_find(&t, "m");
    ASSERT(!c->numeric);
    ASSERT_EQ_INT(c->n, 4);
    ASSERT_EQ_INT(c->n_cats, 4);
    ASSERT_NULL(c->values);
    c = kiln_csv_column_find(&t, "q\r\nr");
    ASSERT_NOT_NULL(c);
    ASSERT_EQ_INT(c->n, 2);
    ASSERT_EQ_INT(c->missing, 2);
    ASSERT_NULL(kiln_csv_column_find(&t, "nope"));
    kiln_csv_table_dispose(&t);
    kiln_csv_table_dispose(NULL);
    unlink(path);
    free(path);
}

/* Lines stay right across the reader's 64 KiB chunks, with LF or CRLF,
 * up to an error at the end. A long first row ends the first chunk with
 * its LF, or between the CR and the LF. */
static void test_big(void)
{
    static const char *const eols[] = {"\n", "\r\n"};
    for (size_t e = 0; e < KILN_ARRAY_SIZE(eols); e++) {
        const char *eol = eols[e];
        kiln_buf text = KILN_BUF_INIT, b = KILN_BUF_INIT;
        kiln_err err = KILN_ERR_INIT;
        kiln_csv_table t;
        char *path, *last;
        kiln_buf_printf(&text, "id,note%s0,", eol);
        while (text.len < 65535)
            kiln_buf_puts(&text, "x");
        kiln_buf_puts(&text, eol);
        for (int i = 1; i <= 20000; i++)
            kiln_buf_printf(&text, i % 1000 != 500 ? "%d,plain%s"
                                                   : "%d,\"two\nlines\"%s",
                            i, eol);
        path = write_file("big.csv", kiln_buf_cstr(&text));
        ASSERT_EQ_INT(kiln_csv_read(path, on_record, &b, &err), 0);
        /* 20001 records, 20 of them two lines long. */
        last = strrchr(kiln_buf_cstr(&b), '\n');
        *last = '\0';
        last = strrchr(kiln_buf_cstr(&b), '\n') + 1;
        ASSERT_STREQ(last, "20022:20000|plain");
        ASSERT_EQ_INT(kiln_csv_load(&t, path, &err), 0);
        ASSERT_EQ_INT(t.n_rows, 20001);
        kiln_csv_table_dispose(&t);
        unlink(path);
        free(path);
        /* A quote left open on the last line. */
        kiln_buf_printf(&text, "x,\"open%s", eol);
        path = write_file("big.csv", kiln_buf_cstr(&text));
        ASSERT_EQ_INT(kiln_csv_load(&t, path, &err), KILN_EINVAL);
        ASSERT_STREQ(err.msg + strlen(path), ": line 20023: a quoted field "
                     "is not closed before the end of the file");
        unlink(path);
        free(path);
        kiln_buf_dispose(&text);
        kiln_buf_dispose(&b);
    }
}

static void test_missing(void)
{
    kiln_err err = KILN_ERR_INIT;
    ASSERT_EQ_INT(kiln_csv_read("/nonexistent/x.csv", on_record, NULL, &err),
                  KILN_ERROR);
    ASSERT_STREQ(err.msg, "cannot open /nonexistent/x.csv: No such file or "
                 "directory");
}

static int stop_at_two(const kiln_csv_record *rec, void *data)
{
    (void)data;
    return rec->index == 2 ? 42 : 0;
}

static void test_stop(void)
{
    char *path = write_file("s.csv", "a\n1\n2\n3\n");
    kiln_err err = KILN_ERR_INIT;
    ASSERT_EQ_INT(kiln_csv_read(path, stop_at_two, NULL, &err), 42);
    unlink(path);
    free(path);
}

static void test_number(void)
{
    double v;
    ASSERT(kiln_csv_number(&v, "12", 2) && v == 12);
    ASSERT(kiln_csv_number(&v, "-0.25", 5) && v == -0.25);
    ASSERT(kiln_csv_number(&v, "1e3", 3) && v == 1000);
    ASSERT(!kiln_csv_number(&v, "", 0));
    ASSERT(!kiln_csv_number(&v, "1x", 2));
    ASSERT(!kiln_csv_number(&v, "inf", 3));
    ASSERT(!kiln_csv_number(&v, "nan", 3));
    ASSERT(!kiln_csv_number(&v, "1e999", 5));
}

int main(void)
{
    ASSERT_NOT_NULL(mkdtemp(dir));
    RUN_TEST(test_lines);
    RUN_TEST(test_malformed);
    RUN_TEST(test_no_header);
    RUN_TEST(test_header);
    RUN_TEST(test_empty);
    RUN_TEST(test_table);
    RUN_TEST(test_big);
    RUN_TEST(test_missing);
    RUN_TEST(test_stop);
    RUN_TEST(test_number);
    rmdir(dir);
    return 0;
}
