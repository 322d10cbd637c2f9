/*
 * cli — `shoal status|reload|upgrade|scale|stop`: the control socket's
 * client, in the same binary as the server.
 */
#ifndef SHOAL_CLI_H
#define SHOAL_CLI_H

#include <stdbool.h>

/* True if arg names a client command. */
bool cli_is_command(const char *arg);

/* Run the command argv[1] with its options; returns the exit status. */
int cli_main(int argc, char **argv);

#endif
