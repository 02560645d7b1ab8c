#!/bin/sh
# Greets whoever is named, or the world.
echo "hello, ${1:-world} (version $(cat /etc/hello-version))"
