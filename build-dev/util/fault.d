build-dev/util/fault.o: util/fault.c util/fault.h
util/fault.h:
