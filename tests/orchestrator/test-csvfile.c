/* test-csvfile.c: CSV records, their line numbers and malformed files. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kiln_test.h"
#include "orchestrator/csvfile.h"

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

static void expect(const char *text, int want_rc, const char *want)
{
    char *path = write_file("t.csv", text);
    kiln_buf b = KILN_BUF_INIT;
    kiln_err err = KILN_ERR_INIT;
    int rc = kiln_csv_read(path, on_record, &b, &err);
    ASSERT_EQ_INT(rc, want_rc);
    if (rc == 0) {
        ASSERT_STREQ(kiln_buf_cstr(&b), want);
    } else {
        /* The message names the file, then the line. */
        ASSERT(strncmp(err.msg, path, strlen(path)) == 0);
        ASSERT_STREQ(err.msg + strlen(path), want);
    }
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
}

/* Lines stay right across the reader's 64 KiB chunks. */
static void test_big(void)
{
    kiln_buf text = KILN_BUF_INIT, b = KILN_BUF_INIT;
    kiln_err err = KILN_ERR_INIT;
    char *path, *last;
    kiln_buf_puts(&text, "id,note\n");
    for (int i = 1; i <= 20000; i++)
        kiln_buf_printf(&text, i % 1000 != 500 ? "%d,plain\n"
                                               : "%d,\"two\nlines\"\n", i);
    path = write_file("big.csv", kiln_buf_cstr(&text));
    ASSERT_EQ_INT(kiln_csv_read(path, on_record, &b, &err), 0);
    /* 20000 records, 20 of them two lines long. */
    last = strrchr(kiln_buf_cstr(&b), '\n');
    *last = '\0';
    last = strrchr(kiln_buf_cstr(&b), '\n') + 1;
    ASSERT_STREQ(last, "20021:20000|plain");
    unlink(path);
    free(path);
    kiln_buf_dispose(&text);
    kiln_buf_dispose(&b);
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
    RUN_TEST(test_big);
    RUN_TEST(test_missing);
    RUN_TEST(test_stop);
    RUN_TEST(test_number);
    rmdir(dir);
    return 0;
}
