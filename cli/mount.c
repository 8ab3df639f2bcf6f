// SPDX-License-Identifier: MIT
/* PLACEHOLDER until the FUSE daemon lands (issue 3). */
#include "cli.h"

int cmd_mount(struct cli *cli, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err(cli, "not built yet");
	return 1;
}

int cmd_umount(struct cli *cli, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err(cli, "not built yet");
	return 1;
}
