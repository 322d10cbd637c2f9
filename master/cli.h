/*
 * cli — `shoal status|reload|upgrade|scale|reopen|stop`: the control
 * socket's client, in the same binary as the server. args.c reads the
 * command line; this sends the request and prints the answer.
 */
#ifndef SHOAL_CLI_H
#define SHOAL_CLI_H

#include "master/args.h"

/* Run the command a names (a->mode ARGS_CLIENT); returns the exit status. */
int cli_main(const struct args *a);

#endif
