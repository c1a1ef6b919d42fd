#!/bin/sh
# The shell agent: runs input.command with /bin/sh; its exit status is the task's.
cmd=$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.env.AGENT_INPUT_PATH, "utf8")).command)') || exit 2
exec /bin/sh -c "$cmd"
