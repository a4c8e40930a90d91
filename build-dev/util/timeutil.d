build-dev/util/timeutil.o: util/timeutil.c util/timeutil.h util/error.h
util/timeutil.h:
util/error.h:
