#!/bin/sh
# The shell agent: runs input.command with /bin/sh, in input.cwd (else its own folder), with
# input.env added to its environment (what `agentmgr run` passes); its exit status is the task's.
setup=$(node "$(dirname "$0")/setup.cjs") || exit 2
eval "$setup"
exec /bin/sh -c "$AGENT_SHELL_COMMAND"
