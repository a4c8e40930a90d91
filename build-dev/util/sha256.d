build-dev/util/sha256.o: util/sha256.c util/sha256.h util/error.h
util/sha256.h:
util/error.h:
