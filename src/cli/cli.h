/* cli.h - shared pieces of the `director` command-line front end.
 *
 * Each command lives in its own cmd_*.c and is listed in the table in main.c. Commands
 * return the process exit status (0 ok, 1 runtime failure, 2 usage error) and print
 * errors as "director <command>: error: <message>" on stderr. */
#ifndef DIRECTOR_CLI_CLI_H
#define DIRECTOR_CLI_CLI_H

#include <stdbool.h>

#include "core/error.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Print "director <cmd>: error: <msg>" and return CLI_EXIT_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same for a usage error; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report a dr_err from the library; returns CLI_EXIT_FAIL. */
int cli_fail_err(const char *cmd, const dr_err *err);

/* Strict number parsing for option values: the whole string must be a number within
 * [lo, hi]; otherwise print a usage error naming the option and return false. */
bool cli_parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
bool cli_parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
bool cli_parse_u64(const char *cmd, const char *opt, const char *s, unsigned long long *out);

/* Commands: int dr_cmd_<name>(int argc, char **argv), argv[0] is the command name. */
int dr_cmd_version(int argc, char **argv);
int dr_cmd_train(int argc, char **argv); /* dispatcher: cmd_train.c */
int dr_cmd_generate(int argc, char **argv); /* cmd_generate.c */
int dr_cmd_llm(int argc, char **argv);   /* cmd_llm.c */
int dr_cmd_train_llm(int argc, char **argv); /* cmd_train_llm.c */
int dr_cmd_pose(int argc, char **argv);  /* cmd_pose.c: render, convert */
int dr_cmd_data(int argc, char **argv);  /* dispatcher: cmd_data.c */
int dr_cmd_data_import_bvh(int argc, char **argv); /* cmd_import.c */
int dr_cmd_train_tokenizer(int argc, char **argv);
int dr_cmd_tokenize(int argc, char **argv); /* cmd_tokenize.c */
int dr_cmd_train_rvq(int argc, char **argv); /* cmd_rvq.c */
int dr_cmd_rvq(int argc, char **argv);       /* cmd_rvq.c */
int dr_cmd_train_textenc(int argc, char **argv); /* cmd_interp.c */
int dr_cmd_train_interp(int argc, char **argv);  /* cmd_interp.c */
int dr_cmd_interp(int argc, char **argv);        /* cmd_interp.c */
int dr_cmd_train_eval(int argc, char **argv);
int dr_cmd_eval(int argc, char **argv);  /* cmd_eval.c: the evaluation table */
int dr_cmd_export(int argc, char **argv); /* cmd_export.c: gguf, hf */

#endif
