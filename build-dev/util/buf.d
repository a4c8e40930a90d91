build-dev/util/buf.o: util/buf.c util/buf.h util/error.h
util/buf.h:
util/error.h:
