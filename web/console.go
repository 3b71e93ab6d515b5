package web

import "github.com/labstack/echo/v4"

// registerConsoleRoutes lists the operator console, the public application form and the
// merchant's settings pages.
func (s *Server) registerConsoleRoutes(pages *echo.Group) {}
