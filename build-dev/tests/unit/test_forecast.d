build-dev/tests/unit/test_forecast.o: tests/unit/test_forecast.c \
 forecast/forecast.h history/history.h util/resource.h util/error.h
forecast/forecast.h:
history/history.h:
util/resource.h:
util/error.h:
