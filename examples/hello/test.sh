#!/bin/sh
# The application's tests: run them in the built image, write a JUnit report.
set -u
out=${1:-/workspace/reports/junit.xml}
mkdir -p "$(dirname "$out")"
version=$(cat /etc/hello-version)
passed=0; failed=0; cases=""
check() {
    name=$1; expected=$2; shift 2
    actual=$("$@")
    if [ "$actual" = "$expected" ]; then
        passed=$((passed + 1)); cases="$cases<testcase classname=\"hello\" name=\"$name\"/>"
    else
        failed=$((failed + 1))
        cases="$cases<testcase classname=\"hello\" name=\"$name\"><failure message=\"got: $actual\"/></testcase>"
    fi
}
check greets_the_world "hello, world (version $version)" hello
check greets_by_name "hello, shiplog (version $version)" hello shiplog
printf '<testsuite name="hello" tests="%d" failures="%d">%s</testsuite>\n' \
    $((passed + failed)) "$failed" "$cases" > "$out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
