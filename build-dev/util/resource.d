build-dev/util/resource.o: util/resource.c util/resource.h
util/resource.h:
